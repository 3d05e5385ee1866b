//! What a world measures while it runs: latency histograms per command (from the actual
//! send, as memtier measures, and from the intended send), where each request's time
//! went, per-shard load, traffic per flow kind, and per-second series. Components record
//! into it through their context; `World::finish` turns it into plain results.
//! Invariant: only requests completed in the measured window [warm-up, end) enter the
//! totals; the per-second series cover the whole run, so the warm-up can be seen.

use super::flows::FlowKind;
use super::requests::Req;
use super::results::{BreakdownResult, CommandResult, FlowKindTotals, SecondLatency};
use crate::scenario::resolve::RunConfig;
use crate::workload::generator::OpKind;
use sim::net::{Network, NicId};

use sim::stats::{CounterSeries, LatencyHistogram};
use sim::{SimDuration, SimTime};

/// Totals of one command type.
#[derive(Clone, Debug, Default)]
pub struct CommandStats {
    pub count: u64,
    pub hits: u64,
    pub misses: u64,
    pub request_bytes: u64,
    pub reply_bytes: u64,
    /// From the actual send (memtier's measure).
    pub latency: LatencyHistogram,
    /// From the intended send (no coordinated omission).
    pub latency_intended: LatencyHistogram,
    /// Some request was sent after its intended time. Until then the two latencies are
    /// the same samples, so only `latency` is recorded, and `latency_intended` is copied
    /// from it when that changes or at the end.
    pub(crate) intended_diverged: bool,
}

impl CommandStats {
    fn record_latencies(&mut self, from_sent: SimDuration, from_intended: SimDuration) {
        if !self.intended_diverged && from_intended != from_sent {
            self.intended_diverged = true;
            self.latency_intended = self.latency.clone();
        }
        self.latency.record(from_sent);
        if self.intended_diverged {
            self.latency_intended.record(from_intended);
        }
    }

    fn finish(mut self) -> CommandResult {
        if !self.intended_diverged {
            self.latency_intended = self.latency.clone();
        }
        CommandResult {
            count: self.count,
            hits: self.hits,
            misses: self.misses,
            request_bytes: self.request_bytes,
            reply_bytes: self.reply_bytes,
            latency: self.latency,
            latency_intended: self.latency_intended,
        }
    }
}

/// Where requests' time went, one histogram per component. Like
/// `CommandStats::latency_intended`, the histograms are complete only after
/// `Metrics::finish`.
#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    pub client_queue: LatencyHistogram,
    pub network_queues: LatencyHistogram,
    pub propagation: LatencyHistogram,
    pub cpu_queue: LatencyHistogram,
    pub service: LatencyHistogram,
    /// From the reply's arrival at the client host to the end of its parse.
    pub client_cpu: LatencyHistogram,
    /// Runs of equal samples not yet recorded (see [`Run`]).
    client_queue_run: Run,
    propagation_run: Run,
    service_run: Run,
    client_cpu_run: Run,
}

/// A run of equal samples, recorded into its histogram as one `record_n` when a
/// different sample arrives or at the end. Several components are constant or nearly so
/// (propagation without jitter, a closed loop's zero client queue, the CPU cost of
/// same-sized batches), and a histogram gives the same figures whatever the order of
/// its samples, so this changes no result and saves most of their recording.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    value: SimDuration,
    count: u64,
}

impl Run {
    #[inline]
    fn record(&mut self, hist: &mut LatencyHistogram, d: SimDuration) {
        if self.count > 0 && self.value == d {
            self.count += 1;
            return;
        }
        self.flush(hist);
        *self = Run { value: d, count: 1 };
    }

    fn flush(&mut self, hist: &mut LatencyHistogram) {
        if self.count > 0 {
            hist.record_n(self.value, self.count);
            self.count = 0;
        }
    }
}

/// Per-second gauges of one node, sampled at the start of each second.
#[derive(Clone, Debug, Default)]
pub struct NodeGauges {
    pub egress_credits_bits: Vec<u64>,
    pub ingress_credits_bits: Vec<u64>,
    pub used_memory_bytes: Vec<u64>,
}

/// Messages and payload bytes delivered on one kind of flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowKindCounts {
    pub messages_delivered: u64,
    pub payload_bytes_delivered: u64,
}

#[derive(Clone, Debug)]
pub struct Metrics {
    pub sets: CommandStats,
    pub gets: CommandStats,
    pub breakdown: Breakdown,
    pub shard_ops: Vec<u64>,
    /// `shard_ops` by the second the requests completed in.
    pub shard_ops_per_s: Vec<CounterSeries>,
    pub ops_per_s: CounterSeries,
    /// Per second with completions, in order (see `RunResult::latency_per_s`).
    pub latency_per_s: Vec<SecondLatency>,
    pub node_gauges: Vec<NodeGauges>,
    pub flow_kinds: [FlowKindCounts; FlowKind::COUNT],
    pub errors: u64,
    pub client_queue_overflows: u64,
    /// The start of the measured window (the end of warm-up).
    pub measure_from: SimTime,
    /// One-way propagation, the constant part of a request's network time.
    pub propagation: SimDuration,
    /// Each connection's own, when zones make it differ (empty otherwise).
    pub propagation_by_conn: Vec<SimDuration>,
    /// Requests completed over the whole run, warm-up included.
    pub completed_total: u64,
    pub last_completion: SimTime,
    /// Reply bytes each node sent, over the whole run.
    pub reply_bytes_by_node: Vec<u64>,
}

impl Metrics {
    pub fn new(config: &RunConfig, nodes: usize) -> Metrics {
        Metrics {
            sets: CommandStats::default(),
            gets: CommandStats::default(),
            breakdown: Breakdown::default(),
            shard_ops: vec![0; nodes],
            shard_ops_per_s: vec![CounterSeries::default(); nodes],
            ops_per_s: CounterSeries::default(),
            latency_per_s: Vec::new(),
            node_gauges: vec![NodeGauges::default(); nodes],
            flow_kinds: [FlowKindCounts::default(); FlowKind::COUNT],
            errors: 0,
            client_queue_overflows: 0,
            measure_from: SimTime::from_ns(config.warmup_ns),
            propagation: SimDuration::from_ns(config.network.latency_ns),
            propagation_by_conn: Vec::new(),
            completed_total: 0,
            last_completion: SimTime::ZERO,
            reply_bytes_by_node: vec![0; nodes],
        }
    }

    /// A request's reply has been received at `now`.
    #[inline]
    pub(crate) fn record_completion(&mut self, now: SimTime, r: &Req) {
        if now >= self.measure_from {
            self.record_request(now, r);
        }
        self.completed_total += 1;
        self.reply_bytes_by_node[r.shard as usize] += r.reply_bytes;
        self.last_completion = now;
        self.ops_per_s.add(now, 1);
        let second = now.whole_secs();
        match self.latency_per_s.last_mut() {
            // Completions come in time order: only the last second can be the current.
            Some(s) if s.second == second => s.latency.record(now - r.sent),
            _ => self.start_second(second, now - r.sent),
        }
    }

    /// The first completion of a second: kept out of line so `record_completion`
    /// inlines.
    #[inline(never)]
    fn start_second(&mut self, second: u64, latency: SimDuration) {
        let mut h = LatencyHistogram::new();
        h.record(latency);
        self.latency_per_s
            .push(SecondLatency { second, latency: h });
    }

    fn record_request(&mut self, now: SimTime, r: &Req) {
        let propagation = if self.propagation_by_conn.is_empty() {
            self.propagation
        } else {
            self.propagation_by_conn[r.conn as usize]
        };
        let stats = match r.kind {
            OpKind::Set => &mut self.sets,
            OpKind::Get => &mut self.gets,
        };
        stats.count += 1;
        if r.kind == OpKind::Get {
            if r.hit {
                stats.hits += 1;
            } else {
                stats.misses += 1;
            }
        }
        stats.request_bytes += r.request_bytes;
        stats.reply_bytes += r.reply_bytes;
        stats.record_latencies(now - r.sent, now - r.intended);
        self.shard_ops[r.shard as usize] += 1;
        self.shard_ops_per_s[r.shard as usize].add(now, 1);
        let b = &mut self.breakdown;
        let both_ways = propagation + propagation;
        let network = (r.received - r.sent) + (r.delivered - r.cpu_end);
        b.client_queue_run
            .record(&mut b.client_queue, r.sent - r.intended);
        b.propagation_run.record(&mut b.propagation, both_ways);
        b.network_queues.record(network.saturating_sub(both_ways));
        b.cpu_queue.record(r.cpu_start - r.received);
        b.service_run
            .record(&mut b.service, r.cpu_end - r.cpu_start);
        b.client_cpu_run
            .record(&mut b.client_cpu, now - r.delivered);
    }

    /// Samples every node's gauges at `now`; `nics[i]` and `used_memory[i]` are node i's.
    pub fn sample(&mut self, now: SimTime, net: &Network, nics: &[NicId], used_memory: &[u64]) {
        for (i, g) in self.node_gauges.iter_mut().enumerate() {
            let nic = net.nic(nics[i]);
            g.egress_credits_bits.push(nic.egress.credits_bits(now));
            g.ingress_credits_bits.push(nic.ingress.credits_bits(now));
            g.used_memory_bytes.push(used_memory[i]);
        }
    }

    /// The end of the measured window: the run's end, or, when the clients stopped
    /// early (`stopped_early`: they sent their request counts, or their test time ended
    /// before the run) and all `sent` requests were answered, the last reply, as memtier
    /// and redis-benchmark divide by the time the requests took (a `--test-time=2` run
    /// reports its rate over about 2 s, however long the run goes on after it).
    pub fn window_end(&self, end: SimTime, stopped_early: bool, sent: u64) -> SimTime {
        if stopped_early && sent > 0 && self.completed_total == sent {
            self.last_completion
        } else {
            end
        }
    }

    /// The per-command totals and the time breakdown, complete.
    pub fn finish(self) -> (CommandResult, CommandResult, BreakdownResult) {
        let mut b = self.breakdown;
        b.client_queue_run.flush(&mut b.client_queue);
        b.propagation_run.flush(&mut b.propagation);
        b.service_run.flush(&mut b.service);
        b.client_cpu_run.flush(&mut b.client_cpu);
        (
            self.sets.finish(),
            self.gets.finish(),
            BreakdownResult {
                client_queue: b.client_queue,
                network_queues: b.network_queues,
                propagation: b.propagation,
                cpu_queue: b.cpu_queue,
                service: b.service,
                client_cpu: b.client_cpu,
            },
        )
    }

    /// Traffic per flow kind, in kind order.
    /// Totals of the kinds the world has flows of (client kinds always).
    pub fn flow_kind_totals(&self, flows: &super::flows::FlowMap) -> Vec<FlowKindTotals> {
        FlowKind::ALL
            .iter()
            .zip(&self.flow_kinds)
            .filter(|(&kind, _)| kind <= FlowKind::ClientReply || flows.count(kind) > 0)
            .map(|(&kind, c)| FlowKindTotals {
                kind,
                messages_delivered: c.messages_delivered,
                payload_bytes_delivered: c.payload_bytes_delivered,
            })
            .collect()
    }
}

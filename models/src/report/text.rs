//! The text report: what a person reads first, and what the snapshot tests hold. It
//! shows, per variant, memtier's totals table, the latency from the intended send, where
//! the time went, the nodes, the shards and the findings, then a comparison across
//! variants. Invariant: a pure function of the `Report` (numbers printed with fixed
//! decimals), so equal reports render to equal bytes.

use super::{NodeReport, Report, VariantReport};
use crate::scenario::spec::{CreditLevel, ReportSection};
use std::fmt::Write;

/// The columns of memtier's totals table, as the text and HTML reports head them.
pub(crate) const MEMTIER_COLUMNS: [&str; 9] = [
    "Type",
    "Ops/sec",
    "Hits/sec",
    "Misses/sec",
    "Avg. ms",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "KB/sec",
];

/// Shards listed one by one up to this count; beyond it the hottest and coldest five.
const SHARDS_LISTED_IN_FULL: usize = 16;

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "kvsim {}: scenario {} (digest {})",
        r.kvsim_version,
        r.scenario.name,
        short(&r.scenario.digest)
    );
    let _ = writeln!(
        o,
        "seed {}, catalog digest {}, {} variant(s)",
        r.seed,
        short(&r.catalog_digest),
        r.variants.len()
    );
    for line in r.scenario.description.lines() {
        let _ = writeln!(o, "  {}", line.trim_end());
    }
    for v in &r.variants {
        variant(&mut o, v);
    }
    let shows_comparison = r
        .variants
        .first()
        .map(|v| v.config.report.shows(ReportSection::Comparison))
        .unwrap_or(false);
    if shows_comparison && r.variants.len() > 1 {
        let _ = writeln!(o, "\n== comparison across variants ==");
        let _ = writeln!(
            o,
            "{:<24} {:>12} {:>10} {:>10} {:>14} {:>12} {:>9}  binding resource",
            "variant", "Ops/sec", "p50 ms", "p99 ms", "p99 ms (int.)", "KB/sec", "hot/cold"
        );
        for c in &r.comparison {
            let _ = writeln!(
                o,
                "{:<24} {:>12.2} {:>10.3} {:>10.3} {:>14.3} {:>12.2} {:>9.3}  {}",
                c.variant,
                c.ops_per_sec,
                c.latency_ms_p50,
                c.latency_ms_p99,
                c.latency_ms_p99_intended,
                c.kb_per_sec,
                c.load_ratio_measured,
                c.binding
            );
        }
        if r.comparison.iter().any(|c| c.headroom.is_some()) {
            let _ = writeln!(
                o,
                "\n{:<24} {:>10} {:>14} {:>14} {:>9}  first to bind (most utilized resource)",
                "variant", "p99.9 ms", "hottest node", "its CPU", "its NIC"
            );
            for c in &r.comparison {
                let Some(h) = &c.headroom else {
                    continue;
                };
                let _ = writeln!(
                    o,
                    "{:<24} {:>10.3} {:>14} {:>13.1}% {:>8.1}%  {} at {:.1}%",
                    c.variant,
                    c.latency_ms_p999_all,
                    h.hottest_node,
                    h.hottest_node_cpu_utilization * 100.0,
                    h.hottest_node_nic_utilization * 100.0,
                    h.first_to_bind,
                    h.first_to_bind_utilization * 100.0
                );
            }
        }
        if r.comparison
            .iter()
            .any(|c| c.slo_seconds_breached.is_some() || c.steal_vcpus_mean.is_some())
        {
            let _ = writeln!(
                o,
                "\n{:<24} {:>10} {:>10} {:>16} {:>12} {:>16}",
                "variant", "p99 ms", "p99.9 ms", "SLO breached s", "steal vCPU", "denied Mbps"
            );
            for c in &r.comparison {
                let _ = writeln!(
                    o,
                    "{:<24} {:>10.3} {:>10} {:>16} {:>12} {:>16}",
                    c.variant,
                    c.latency_ms_p99,
                    opt(c.latency_ms_p999, 3),
                    c.slo_seconds_breached
                        .map_or("-".to_string(), |x| x.to_string()),
                    opt(c.steal_vcpus_mean, 3),
                    opt(c.burst_denied_mbps_mean, 1),
                );
            }
        }
        if r.comparison.iter().any(|c| c.usd_per_hour.is_some()) {
            let _ = writeln!(
                o,
                "\n{:<24} {:<16} {:>12} {:>14} {:>16}  (a month is 730 h)",
                "variant", "price basis", "USD/hour", "USD/month", "USD/M requests"
            );
            for (c, v) in r.comparison.iter().zip(&r.variants) {
                let _ = writeln!(
                    o,
                    "{:<24} {:<16} {:>12} {:>14} {:>16}",
                    c.variant,
                    v.cost.basis.describe(),
                    opt(c.usd_per_hour, 4),
                    opt(c.usd_per_month, 2),
                    opt(c.usd_per_million_requests, 6),
                );
            }
        }
        if r.comparison.iter().any(|c| c.replication.is_some()) {
            let _ = writeln!(
                o,
                "\n{:<24} {:>9} {:>12} {:>9} {:>7} {:>8}  resync loop",
                "variant", "replicas", "disconnects", "partial", "full", "in sync"
            );
            for c in &r.comparison {
                let Some(x) = &c.replication else {
                    let _ = writeln!(o, "{:<24} {:>9}", c.variant, 0);
                    continue;
                };
                let verdict = if x.replicas_in_loop > 0 {
                    "yes: full resyncs repeat"
                } else if x.disconnects > 0 {
                    "no full-resync loop; links still drop"
                } else {
                    "no"
                };
                let _ = writeln!(
                    o,
                    "{:<24} {:>9} {:>12} {:>9} {:>7} {:>8}  {}",
                    c.variant,
                    x.replicas,
                    x.disconnects,
                    x.partial_resyncs,
                    x.full_resyncs,
                    format!("{}/{}", x.in_sync_at_end, x.replicas),
                    verdict
                );
            }
        }
    }
    o
}

/// A number with `p` decimals, or "-" for none.
fn opt(x: Option<f64>, p: usize) -> String {
    x.map_or("-".to_string(), |x| format!("{x:.p$}"))
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(16)]
}

fn variant(o: &mut String, v: &VariantReport) {
    let c = &v.config;
    let _ = writeln!(o, "\n== variant {} ==", v.name);
    let mode = match c.cluster.mode {
        crate::scenario::spec::ClusterMode::Standalone => "standalone",
        crate::scenario::spec::ClusterMode::Cluster => "cluster",
    };
    let threads = match c.cluster.node.threads {
        Some(t) => format!("{t} thread(s), each owning a shard of the keyspace"),
        None if c.cluster.node.io_threads <= 1 => "io-threads 1".to_string(),
        None => match c.cluster.engine {
            crate::scenario::spec::Engine::Redis if c.cluster.node.io_threads_do_reads => format!(
                "io-threads {}, Redis 7.0's: synchronous, reads and writes dealt out",
                c.cluster.node.io_threads
            ),
            crate::scenario::spec::Engine::Redis => format!(
                "io-threads {}, Redis 7.0's: synchronous, writes dealt out, reads on the main thread",
                c.cluster.node.io_threads
            ),
            _ => format!(
                "io-threads {}, Valkey 8's: asynchronous reads, parsing and writes",
                c.cluster.node.io_threads
            ),
        },
    };
    let _ = writeln!(
        o,
        "cluster: {:?} {mode}, {} shard(s) x {} ({threads}), maxmemory {} {}",
        c.cluster.engine,
        c.cluster.shards,
        c.cluster.instance.name,
        crate::units::bytes(c.cluster.node.maxmemory_bytes),
        c.cluster.node.maxmemory_policy.redis_name()
    );
    let spec = &c.cluster.instance.spec;
    let gbps = |b: u64| b as f64 / 1e9;
    let burst = match spec.burst_bits_per_s {
        Some(b) if b > spec.baseline_bits_per_s => {
            let capacity_bits = spec.net_credit_capacity_bits.unwrap_or(0);
            let at_start = match c.net_credits_at_start {
                CreditLevel::Full => "full".to_string(),
                CreditLevel::Empty => "empty".to_string(),
                CreditLevel::Fraction(f) => format!("{:.0}% full", f * 100.0),
            };
            format!(
                ", burst {} Gbps with {} Gbit of credits ({} at full burst; {at_start} at start)",
                gbps(b),
                gbps(capacity_bits),
                crate::units::seconds(capacity_bits as f64 / (b - spec.baseline_bits_per_s) as f64)
            )
        }
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "instance {}: {} vCPU, {:.2} GiB, network baseline {} Gbps{burst}; CPU cost per batch {} ns, per command {} ns, per byte {} ps",
        c.cluster.instance.name,
        spec.vcpu,
        spec.memory_bytes as f64 / (1u64 << 30) as f64,
        gbps(spec.baseline_bits_per_s),
        v.cpu_cost.per_read_batch_ns,
        v.cpu_cost.per_command_ns,
        v.cpu_cost.per_byte_ps
    );
    if c.cluster.engine.is_thread_per_core() {
        let _ = writeln!(
            o,
            "thread-per-core: per hop {} ns (paid by the owning thread and again by the connection's), kernel network work {} ns a request on the host's vCPUs",
            v.cpu_cost.per_hop_ns, v.cpu_cost.kernel_per_request_ns
        );
    }
    let cc = &c.clients.cpu_cost;
    let _ = writeln!(
        o,
        "clients: {} host(s) x {} ({} vCPU), {} connection(s) on {} thread(s) a host; memtier {}; client CPU per request {} ns, per reply {} ns, per byte {} ps",
        c.clients.hosts,
        c.clients.instance.name,
        c.clients.instance.spec.vcpu,
        c.clients.connections_total(),
        c.clients.workload.threads,
        c.clients.workload.memtier_args(),
        cc.per_request_ns,
        cc.per_reply_ns,
        cc.per_byte_ps
    );
    let _ = writeln!(
        o,
        "network: latency {} us, jitter {} us, MTU {}, headers {}+{} B; run {} s, warm-up {} s; {} events",
        c.network.latency_ns as f64 / 1e3,
        c.network.jitter_ns as f64 / 1e3,
        c.network.mtu_bytes,
        c.network.ip_tcp_header_bytes,
        c.network.link_header_bytes,
        c.duration_ns as f64 / 1e9,
        c.warmup_ns as f64 / 1e9,
        v.simulation.events
    );
    if c.report.shows(ReportSection::Totals) {
        let _ = writeln!(
            o,
            "\nALL STATS (after warm-up; latency from the actual send, as memtier)"
        );
        let [c0, c1, c2, c3, c4, c5, c6, c7, c8] = MEMTIER_COLUMNS;
        let _ = writeln!(
            o,
            "{c0:<8} {c1:>12} {c2:>12} {c3:>12} {c4:>12} {c5:>10} {c6:>10} {c7:>10} {c8:>12}"
        );
        for (name, s) in [
            ("Sets", &v.all_stats.sets),
            ("Gets", &v.all_stats.gets),
            ("Totals", &v.all_stats.totals),
        ] {
            let p = &s.percentile_latencies;
            let _ = writeln!(
                o,
                "{:<8} {:>12.2} {:>12.2} {:>12.2} {:>12.3} {:>10.3} {:>10.3} {:>10.3} {:>12.2}",
                name,
                s.ops_per_sec,
                s.hits_per_sec,
                s.misses_per_sec,
                s.average_latency,
                p["p50.00"],
                p["p99.00"],
                p["p99.90"],
                s.kb_per_sec
            );
        }
        let li = &v.latency_intended;
        let _ = writeln!(
            o,
            "from the intended send (no coordinated omission): avg {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms",
            li.latency_ms_avg, li.latency_ms_p50, li.latency_ms_p99, li.latency_ms_p999
        );
        if let Some(offered) = v.offered_ops_per_s {
            let how = if c.clients.workload.open_loop.is_some() {
                "open-loop arrivals"
            } else {
                "rate limit"
            };
            let _ = writeln!(
                o,
                "offered load ({how}, averaged over the window): {offered:.2} ops/s; served {:.2} ops/s",
                v.all_stats.totals.ops_per_sec
            );
        }
        if v.simulation.errors > 0 || v.simulation.client_queue_overflows > 0 {
            let _ = writeln!(
                o,
                "error replies: {}; open-loop arrivals dropped at a full client queue: {}",
                v.simulation.errors, v.simulation.client_queue_overflows
            );
        }
    }
    if c.report.shows(ReportSection::LatencyBreakdown) {
        let _ = writeln!(
            o,
            "\nwhere the time went (per request)      mean us       p99 us"
        );
        for comp in &v.latency_breakdown {
            let _ = writeln!(
                o,
                "  {:<34} {:>10.3} {:>12.3}",
                comp.component, comp.mean_us, comp.p99_us
            );
        }
    }
    if c.report.shows(ReportSection::Nodes) {
        nodes(o, v);
        cross_zone(o, v);
    }
    faults(o, v);
    replication(o, v);
    bus(o, v);
    resharding(o, v);
    neighbours(o, v);
    thread_per_core(o, v);
    slo(o, v);
    if c.report.shows(ReportSection::Shards) && v.shards.per_shard.len() > 1 {
        let s = &v.shards;
        let _ = writeln!(
            o,
            "\nshards ({} placement): hottest/coldest {:.3} measured (request-sampled), {:.3} exact (expected from the key distribution)",
            s.placement, s.load_ratio_measured, s.load_ratio_exact
        );
        if let Some(r) = &v.resharding {
            let _ = writeln!(
                o,
                "  exact shares are those of the slots at the start; resharding moved {} slot(s) during the run, so measured shares mix the layouts before and after",
                r.slots_moved
            );
        }
        if s.share_exact_error_bound > 0.0 {
            let _ = writeln!(
                o,
                "  each exact share within {:.1e} of its true value (too many keys to sum one by one: weighed in bounded pieces)",
                s.share_exact_error_bound
            );
        }
        let mut order: Vec<usize> = (0..s.per_shard.len()).collect();
        order.sort_by(|&a, &b| {
            s.per_shard[b]
                .share_exact
                .total_cmp(&s.per_shard[a].share_exact)
                .then(a.cmp(&b))
        });
        let shown: Vec<usize> = if order.len() <= SHARDS_LISTED_IN_FULL {
            order
        } else {
            order[..5]
                .iter()
                .chain(order[order.len() - 5..].iter())
                .copied()
                .collect()
        };
        let _ = writeln!(
            o,
            "  {:>6} {:>12} {:>16} {:>14}",
            "shard", "ops", "share measured", "share exact"
        );
        for i in shown {
            let l = &s.per_shard[i];
            let _ = writeln!(
                o,
                "  {:>6} {:>12} {:>16.6} {:>14.6}",
                l.shard, l.ops, l.share_measured, l.share_exact
            );
        }
    }
    if c.report.shows(ReportSection::Findings) {
        findings(o, v);
    }
    let _ = writeln!(o, "\ncost: {}", super::cost::describe(&v.cost));
}

/// A rate in Gbps with at most three decimals.
fn gbps(bits_per_s: u64) -> String {
    let s = format!("{:.3}", bits_per_s as f64 / 1e9);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} Gbps")
}

fn findings(o: &mut String, v: &VariantReport) {
    let fw = &v.findings_window;
    let rule = match fw.binding_seconds {
        3 => "3 consecutive seconds".to_string(),
        1 => "its only whole second".to_string(),
        n => format!("all {n} whole seconds"),
    };
    let _ = writeln!(
        o,
        "\nfindings (rule: a resource binds at >= 90% utilization for {rule} after warm-up; the most utilized binds)"
    );
    let served = v.all_stats.totals.ops_per_sec;
    if fw.binding_seconds == 0 {
        let _ = writeln!(
            o,
            "  the measured window has no whole second after warm-up: too short to judge"
        );
    } else if v.findings.is_empty() {
        let w = &v.config.clients.workload;
        let drops: u64 = v.nodes.iter().chain(&v.client_hosts).map(|n| n.drops).sum();
        let retransmits: u64 = v
            .nodes
            .iter()
            .chain(&v.client_hosts)
            .map(|n| n.retransmits)
            .sum();
        let why = match v.offered_ops_per_s {
            // Served within 5% of the offer: the load, not the system, set the rate.
            Some(offered) if served >= 0.95 * offered => format!(
                "offered {offered:.0} ops/s, served {served:.0} ops/s: the offered load limits throughput"
            ),
            Some(offered) => format!(
                "served {served:.0} of {offered:.0} ops/s offered: the client concurrency ({} connection(s) x pipeline {}) or losses ({drops} drop(s), {retransmits} retransmission(s)) held the rest back",
                v.config.clients.connections_total(),
                w.pipeline
            ),
            None => format!(
                "a closed loop of {} connection(s) x pipeline {} served {served:.0} ops/s: the client concurrency limits throughput",
                v.config.clients.connections_total(),
                w.pipeline
            ),
        };
        let _ = writeln!(o, "  no resource at >= 90%: {why}");
        // A fault that cut or slowed traffic in the window holds a closed loop back too:
        // say so rather than leave the clients alone to blame.
        let window_start_ns = v.config.warmup_ns;
        let window_end_ns = window_start_ns + (v.measured_window_s * 1e9) as u64;
        if let Some(faults) = &v.faults {
            let hit: Vec<String> = faults
                .timeline
                .iter()
                .filter(|f| {
                    f.kind != "nic_rate"
                        && f.began_ns < window_end_ns
                        && f.ended_ns.is_none_or(|e| e > window_start_ns)
                })
                .map(|f| {
                    let until = f.ended_ns.map_or("the end".to_string(), |e| {
                        format!("{:.3} s", e as f64 / 1e9)
                    });
                    format!(
                        "{} {} from {:.3} s to {until}",
                        f.kind,
                        f.target,
                        f.began_ns as f64 / 1e9
                    )
                })
                .collect();
            if !hit.is_empty() {
                let _ = writeln!(
                    o,
                    "  and faults in the window held requests back (see the fault timeline): {}",
                    hit.join("; ")
                );
            }
        }
    }
    for f in &v.findings {
        let tag = if f.binding { "BINDING" } else { "also   " };
        let ceiling = match f.regimes.as_slice() {
            [] => String::new(),
            [_] if f.ceiling_ops_per_s > 0.0 => format!(
                "; at 100% it would carry about {:.0} ops/s",
                f.ceiling_ops_per_s
            ),
            [_] => String::new(),
            regimes => {
                // Latest first: the regime a sustained load meets.
                let parts: Vec<String> = regimes
                    .iter()
                    .rev()
                    .map(|r| {
                        let rate = r.allowed_bits_per_s.map(gbps).unwrap_or_default();
                        let what = match r.regime {
                            super::findings::RegimeKind::CreditsSpent => {
                                format!("with its credits spent (baseline {rate}")
                            }
                            super::findings::RegimeKind::Burst => format!("at burst ({rate}"),
                            super::findings::RegimeKind::Constant => format!("({rate}"),
                        };
                        format!(
                            "about {:.0} ops/s {what}, t={}s to {}s)",
                            r.ceiling_ops_per_s, r.from_s, r.to_s
                        )
                    })
                    .collect();
                format!("; at 100% it would carry {}", parts.join(", "))
            }
        };
        let _ = writeln!(o, "  {tag} {}{ceiling}", f.summary());
    }
}

/// The server nodes' table (summarized when long) and the client hosts' lines.
fn nodes(o: &mut String, v: &VariantReport) {
    let c = &v.config;
    let cpu_over_run = if v.findings_window.end_s <= v.findings_window.first_s {
        "; CPU over the whole run, the window being shorter than a second"
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "\nnodes (counts and rates over the measured window, from t={:.3}s; credits and memory at the end{cpu_over_run})",
        c.warmup_ns as f64 / 1e9
    );
    let _ = writeln!(
        o,
        "  {:<14} {:>10} {:>14} {:>10} {:>10} {:>17} {:>9} {:>10} {:>20} {:>15} {:>7} {:>10}",
        "name",
        "ops",
        "cpu util",
        "in MiB",
        "out MiB",
        "out Gbps (base)",
        "bw_in_exc",
        "bw_out_exc",
        "credits end (burst)",
        "credits ran out",
        "drops",
        "memory MiB"
    );
    let spec = &c.cluster.instance.spec;
    // Seconds of burst a credit balance buys: credits are spent at the burst rate less
    // the baseline, which the bucket earns back meanwhile.
    let burst_spend_bits_per_s = spec
        .burst_bits_per_s
        .filter(|_| spec.is_net_burstable())
        .map(|b| b - spec.baseline_bits_per_s);
    let started_empty = spec
        .net_credit_capacity_bits
        .is_some_and(|cap| cap > 0 && c.net_credits_at_start.of_capacity(cap) == 0);
    let shown = summarized_rows(v);
    for &i in &shown {
        node_row(o, &v.nodes[i], burst_spend_bits_per_s, started_empty);
    }
    if shown.len() < v.nodes.len() {
        let _ = writeln!(
            o,
            "  (showing {} of {} nodes: the busiest three, the median, the idlest three and any a finding names; every row is in the JSON and in nodes.csv under --out)",
            shown.len(),
            v.nodes.len()
        );
    }
    for n in v.nodes.iter().filter(|n| n.cpu_threads_waiting_mean > 0.0) {
        let _ = writeln!(
            o,
            "  {}: {} thread(s) on {} vCPU(s): {:.2} vCPU(s) busy, {:.2} thread(s) waiting for one (mean)",
            n.name,
            n.cpu_utilization.len(),
            n.vcpus,
            n.cpu_utilization.iter().sum::<f64>(),
            n.cpu_threads_waiting_mean
        );
    }
    for h in &v.client_hosts {
        let threads = h.cpu_utilization.len().max(1) as f64;
        let _ = writeln!(
            o,
            "  {}: {} connection(s), {} replies received ({:.0}/s); CPU {:.1}% a thread (mean of {}), busiest {:.1}%{}; in {} at {} of {} baseline, out {}; bw_exc in/out {}/{}, drops {}",
            h.name,
            h.connections,
            h.ops,
            h.ops as f64 / v.measured_window_s.max(1e-9),
            h.cpu_utilization.iter().sum::<f64>() / threads * 100.0,
            h.cpu_utilization.len(),
            h.cpu_utilization.iter().cloned().fold(0.0, f64::max) * 100.0,
            if h.cpu_threads_waiting_mean > 0.0 {
                format!(
                    ", {:.2} thread(s) waiting for one of its {} vCPU(s) (mean)",
                    h.cpu_threads_waiting_mean, h.vcpus
                )
            } else {
                String::new()
            },
            mib(h.net_in_bytes),
            crate::units::bits_per_s(h.net_in_bits_per_s),
            crate::units::bits_per_s(h.net_baseline_bits_per_s as f64),
            mib(h.net_out_bytes),
            h.bw_in_allowance_exceeded,
            h.bw_out_allowance_exceeded,
            h.drops
        );
    }
}

/// Each host's bytes to and from other zones, when the scenario names zones.
fn cross_zone(o: &mut String, v: &VariantReport) {
    let rows: Vec<_> = v
        .nodes
        .iter()
        .chain(&v.client_hosts)
        .filter_map(|h| h.cross_zone_bytes.map(|c| (h, c)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "
cross-zone traffic (wire bytes over the whole run, what a cloud bill charges for)"
    );
    let _ = writeln!(
        o,
        "  {:<14} {:>6} {:>12} {:>12}",
        "name", "zone", "sent", "received"
    );
    let z = &v.config.zones;
    let mut node = 0;
    let mut client = 0;
    for (h, c) in rows {
        let zone = if h.role == "client" {
            client += 1;
            z.client_zones.get(client - 1)
        } else {
            node += 1;
            z.node_zones.get(node - 1)
        }
        .and_then(|&i| z.names.get(i as usize))
        .map_or("-", String::as_str);
        let _ = writeln!(
            o,
            "  {:<14} {:>6} {:>12} {:>12}",
            h.name,
            zone,
            mib(c.sent),
            mib(c.received)
        );
    }
}

/// Shared hosts: what the scenario states about each, what it led to, and the rules.
fn thread_per_core(o: &mut String, v: &VariantReport) {
    let Some(t) = &v.thread_per_core else {
        return;
    };
    let kernel: Vec<String> = t
        .kernel_vcpus_mean
        .iter()
        .map(|(name, vcpus)| format!("{vcpus:.2} vCPU on {name}"))
        .collect();
    let _ = writeln!(
        o,
        "\nthread-per-core ({} threads): {:.1}% of commands ran on their connection's thread, {:.3} hops a command; kernel network work {} (mean over the run)",
        t.threads,
        t.inline_share * 100.0,
        t.hops_per_command,
        kernel.join(", ")
    );
}

fn neighbours(o: &mut String, v: &VariantReport) {
    let Some(n) = &v.neighbours else {
        return;
    };
    let _ = writeln!(
        o,
        "\nshared hosts (noisy neighbours; figures stated by the scenario, not measured; over the measured window):"
    );
    for h in &n.hosts {
        let _ = writeln!(
            o,
            "  {} on {}: NIC {} Gbps, {} cores x overcommit {}; NIC full {:.1}% of the time; burst rate allowed {:.3} Gbps above baseline (mean), denied {:.1} Mbps (mean, in + out) in {} s; steal {:.3} vCPU (mean), {:.3} (worst second)",
            h.node,
            h.name,
            h.nic_gbps,
            h.cores,
            h.overcommit,
            h.full_fraction * 100.0,
            h.node_burst_allowed_gbps_mean,
            h.burst_denied_mbps_mean,
            h.seconds_with_burst_denied,
            h.steal_vcpus_mean,
            h.steal_vcpus_peak,
        );
        for x in &h.neighbours {
            let credits = match x.credit_capacity_gbit {
                Some(c) => format!("{c} Gbit of credits"),
                None => "credits unlimited".to_string(),
            };
            let _ = writeln!(
                o,
                "    neighbour {}: {} vCPU, baseline {} Gbps, burst {} Gbps, {credits}; {} (duty {:.3}); asks while on {} Gbps and {} vCPU; on {:.1}% of the time, granted {:.3} Gbps of burst while on",
                x.name,
                x.vcpus,
                x.baseline_gbps,
                x.burst_gbps,
                x.activity,
                x.duty_cycle_stated,
                x.demand_gbps,
                x.demand_vcpus,
                x.on_fraction * 100.0,
                x.burst_granted_gbps_mean_while_on,
            );
        }
    }
    let _ = writeln!(o, "  model:");
    for r in &n.rules {
        let _ = writeln!(o, "  - {r}");
    }
}

/// The latency objective: seconds judged, breached, and too thin to judge.
fn slo(o: &mut String, v: &VariantReport) {
    let Some(s) = &v.slo else {
        return;
    };
    let bounds: Vec<String> = [("p99", s.p99_ms), ("p99.9", s.p999_ms)]
        .iter()
        .filter_map(|(l, b)| b.map(|b| format!("{l} <= {b} ms")))
        .collect();
    let _ = writeln!(
        o,
        "\nlatency objective ({} in each second, latency from the actual send as memtier measures it): {} of {} whole second(s) of the measured window breached it",
        bounds.join(" and "),
        s.seconds_breached,
        s.seconds
    );
    for (label, r) in [("p99", &s.p99), ("p99.9", &s.p999)] {
        let Some(r) = r else { continue };
        let worst = match r.worst_second {
            Some(w) => format!("worst {:.3} ms in the second from {w} s", r.worst_ms),
            None => "no second held enough requests".to_string(),
        };
        let listed: Vec<String> = r.breached.iter().take(20).map(|s| s.to_string()).collect();
        let more = if r.breached.len() > 20 { ", ..." } else { "" };
        let _ = writeln!(
            o,
            "  {label}: {} breached{}; {} second(s) with fewer than {} requests not judged; {worst}",
            r.seconds_breached,
            if r.breached.is_empty() {
                String::new()
            } else {
                format!(" (seconds from {}{more})", listed.join(", "))
            },
            r.seconds_too_few_requests,
            r.min_requests,
        );
    }
}

/// The resharding timeline: a line a step.
fn resharding(o: &mut String, v: &VariantReport) {
    let Some(r) = &v.resharding else {
        return;
    };
    let _ = writeln!(
        o,
        "\nresharding (over the whole run; redis-cli from client-0; each slot's move is in the JSON): {} slot(s) and {} key(s) moved, {} migrated",
        r.slots_moved,
        r.keys_moved,
        crate::units::bytes(r.migrated_bytes),
    );
    for s in &r.steps {
        let when = match (s.ended_s, s.duration_s) {
            (Some(_), Some(0.0)) => format!("{:.3} s", s.started_s),
            (Some(end), Some(d)) => format!("{:.3} s to {:.3} s ({:.3} s)", s.started_s, end, d),
            _ => format!("{:.3} s, still running at the end", s.started_s),
        };
        let late = if s.started_s > s.due_s {
            format!(" (due at {:.3} s)", s.due_s)
        } else {
            String::new()
        };
        let line = if s.kind == "add_shards" {
            format!("add-node: {} join the cluster, with their replicas", s.node)
        } else {
            format!(
                "reshard to {}: {} of {} slot(s), {} key(s) in {} MIGRATE(s), {} at {}/s",
                s.node,
                s.slots_moved,
                s.slots_planned,
                s.keys_moved,
                s.migrate_calls,
                crate::units::bytes(s.migrated_bytes),
                crate::units::bytes(s.migrated_bytes_per_s as u64),
            )
        };
        let _ = writeln!(o, "  {when}{late}: {line}");
    }
    if let Some(t) = r.aborted_s {
        let _ = writeln!(
            o,
            "  {t:.3} s: a resharding connection was reset; redis-cli gave up, leaving its slot open"
        );
    }
}

/// The cluster bus: the spread over nodes, each node when they are few, and failure
/// detection's timeline.
fn bus(o: &mut String, v: &VariantReport) {
    let Some(b) = &v.bus else {
        return;
    };
    let _ = writeln!(
        o,
        "\ncluster bus ({} nodes, node_timeout {} ms; rates over the measured window's {} whole s): {:.1} messages/s, {} in total",
        b.nodes,
        b.node_timeout_ms,
        b.window_s,
        b.messages_sent_per_s_total,
        crate::units::bits_per_s(b.bits_sent_per_s_total),
    );
    let row = |o: &mut String, name: &str, n: &crate::report::bus::NodeBusReport| {
        let _ = writeln!(
            o,
            "  {:<14} {:>10.3} {:>10.3} {:>10.3} {:>12.0} {:>12.0} {:>10.4} {:>11.4}",
            name,
            n.pings_sent_per_s,
            n.pongs_sent_per_s,
            n.messages_received_per_s,
            n.bytes_sent_per_s,
            n.bytes_received_per_s,
            100.0 * n.egress_baseline_share,
            100.0 * n.main_thread_share,
        );
    };
    if b.per_node.len() <= 12 {
        let _ = writeln!(
            o,
            "  {:<14} {:>10} {:>10} {:>10} {:>12} {:>12} {:>10} {:>11}",
            "node",
            "pings/s",
            "pongs/s",
            "msgs in/s",
            "bytes out/s",
            "bytes in/s",
            "% baseline",
            "% main thr"
        );
        for n in &b.per_node {
            row(o, &n.name, n);
        }
    } else {
        for (label, s) in [
            ("messages out/s", &b.per_node_messages_sent_per_s),
            ("bytes out/s", &b.per_node_bytes_sent_per_s),
            ("% of baseline", &b.per_node_egress_baseline_share),
            ("% main thread", &b.per_node_main_thread_share),
        ] {
            let scale = if label.starts_with('%') { 100.0 } else { 1.0 };
            let _ = writeln!(
                o,
                "  {:<14} per node: least {:>12.4}  mean {:>12.4}  most {:>12.4}",
                label,
                scale * s.min,
                scale * s.mean,
                scale * s.max
            );
        }
    }
    for e in &b.events {
        let t = e.at_ns as f64 / 1e9;
        let line = match e.event.as_str() {
            "pfail" => format!("{} flagged PFAIL by {}", e.node, e.by),
            "fail" => format!(
                "{} flagged FAIL by {} (quorum reached; broadcast)",
                e.node, e.by
            ),
            "fail_cleared" => format!("{}'s FAIL cleared by {} (reachable again)", e.node, e.by),
            "election" => format!("{} asks for votes to replace {}", e.node, e.by),
            "promoted" => format!(
                "{} promoted in place of {}: {} acknowledged write(s) lost ({})",
                e.node,
                e.by,
                e.lost_writes.unwrap_or(0),
                crate::units::bytes(e.lost_stream_bytes.unwrap_or(0))
            ),
            "rejoined" => format!("{} rejoined as a replica of {} (full resync)", e.node, e.by),
            other => format!("{} {other} ({})", e.node, e.by),
        };
        let _ = writeln!(o, "  {t:.3} s {line}");
    }
    if let Some(note) = &b.node_limit_note {
        let _ = writeln!(o, "  note: {note}");
    }
    for f in &b.failovers {
        if let (Some(at), Some(gap)) = (f.crashed_at_s, f.unavailable_s) {
            let _ = writeln!(
                o,
                "  failover: {} crashed at {at:.3} s, {} promoted at {:.3} s: its slots had no primary for {gap:.3} s; {} acknowledged write(s) lost",
                f.failed, f.promoted, f.promoted_at_s, f.lost_writes
            );
            match f.clients_recovered_at_s {
                Some(t) => {
                    let _ = writeln!(
                        o,
                        "  clients recovered: from {t:.0} s they completed at least {:.0}% of their requests a second before the crash",
                        100.0 * crate::report::bus::RECOVERED_SHARE
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        "  clients recovered: not within the run (or no measured second before the crash to compare with)"
                    );
                }
            }
        }
    }
    if let Some(c) = &v.cluster_clients {
        let t = &c.total;
        let _ = writeln!(
            o,
            "  clients (over the whole run): {} MOVED, {} ASK, {} CLUSTERDOWN, {} TRYAGAIN, {} retries, {} map refreshes, {} timeouts, {} failed request(s)",
            t.moved, t.ask, t.clusterdown, t.tryagain, t.retries, t.refreshes, t.timeouts, t.failed
        );
    }
}

/// Replication: each replica's resyncs, buffer and lag, each primary's egress split,
/// reads served by replicas, each link's timeline, and the resync loop when there is
/// one.
fn replication(o: &mut String, v: &VariantReport) {
    use crate::world::replication::LinkEvent;
    let Some(r) = &v.replication else {
        return;
    };
    let _ = writeln!(
        o,
        "\nreplication (counts, peaks and lags over the whole run; egress rates: the run's bytes over the time to the end of the measured window)"
    );
    let _ = writeln!(
        o,
        "  {:<14} {:<10} {:>6} {:>8} {:>5} {:>10} {:>12} {:>10} {:>9}  in sync",
        "replica",
        "primary",
        "drops",
        "partial",
        "full",
        "rdb",
        "buffer peak",
        "lag max",
        "lag max s"
    );
    for x in &r.replicas {
        let _ = writeln!(
            o,
            "  {:<14} {:<10} {:>6} {:>8} {:>5} {:>10} {:>12} {:>10} {:>9.3}  {}",
            x.name,
            x.primary,
            x.disconnects,
            x.partial_resyncs,
            x.full_resyncs,
            crate::units::bytes(x.rdb_bytes),
            crate::units::bytes(x.output_buffer_peak_bytes),
            crate::units::bytes(x.lag_bytes_max),
            x.lag_s_max,
            if x.in_sync_at_end { "yes" } else { "no" }
        );
    }
    let _ = writeln!(
        o,
        "  {:<14} {:>14} {:>14} {:>14} {:>14}",
        "primary egress", "write stream", "replication", "client replies", "baseline"
    );
    for p in &r.primaries {
        let _ = writeln!(
            o,
            "  {:<14} {:>14} {:>14} {:>14} {:>14}",
            p.name,
            crate::units::bits_per_s(p.write_stream_bits_per_s),
            crate::units::bits_per_s(p.replication_bits_per_s),
            crate::units::bits_per_s(p.client_reply_bits_per_s),
            crate::units::bits_per_s(p.egress_baseline_bits_per_s as f64),
        );
    }
    if r.replicas.iter().any(|x| x.reads > 0) {
        for x in &r.replicas {
            let _ = writeln!(
                o,
                "  {}: {} read(s) served, {} stale ({:.3}%)",
                x.name,
                x.reads,
                x.stale_reads,
                100.0 * x.stale_reads as f64 / x.reads.max(1) as f64
            );
        }
    }
    // Each replica's drops and resyncs in time order.
    for x in r.replicas.iter().filter(|x| !x.events.is_empty()) {
        let events: Vec<String> = x
            .events
            .iter()
            .map(|e| match e {
                LinkEvent::Disconnect {
                    at_ns,
                    reason,
                    buffer_bytes,
                } => format!(
                    "{:.3} s dropped ({}, buffer {})",
                    *at_ns as f64 / 1e9,
                    reason.label(),
                    crate::units::bytes(*buffer_bytes)
                ),
                LinkEvent::PartialResync {
                    at_ns,
                    payload_bytes,
                } => format!(
                    "{:.3} s partial resync ({} from the backlog)",
                    *at_ns as f64 / 1e9,
                    crate::units::bytes(*payload_bytes)
                ),
                LinkEvent::FullResync { at_ns, rdb_bytes } => format!(
                    "{:.3} s full resync (RDB {})",
                    *at_ns as f64 / 1e9,
                    crate::units::bytes(*rdb_bytes)
                ),
            })
            .collect();
        let _ = writeln!(o, "  {}: {}", x.name, events.join("; "));
    }
    if let Some(l) = &r.resync_loop {
        let _ = writeln!(o, "  resync loop: {l}");
    }
}

/// The fault timeline: when each fault began and ended, what it hit, what it dropped
/// and the connection resets charged to it.
fn faults(o: &mut String, v: &VariantReport) {
    let Some(f) = &v.faults else {
        return;
    };
    let _ = writeln!(
        o,
        "
faults ({} connection reset(s), {} request(s) failed with them)",
        f.connection_resets, f.requests_reset
    );
    let _ = writeln!(
        o,
        "  {:>9} {:>9}  {:<9} {:>9} {:>7} {:>9}  target",
        "from s", "to s", "kind", "dropped", "resets", "failed"
    );
    for r in &f.timeline {
        let until = r
            .ended_ns
            .map_or_else(|| "end".to_string(), |t| format!("{:.3}", t as f64 / 1e9));
        let _ = writeln!(
            o,
            "  {:>9.3} {:>9}  {:<9} {:>9} {:>7} {:>9}  {}",
            r.began_ns as f64 / 1e9,
            until,
            r.kind,
            r.dropped_messages,
            r.connection_resets,
            r.requests_reset,
            r.target
        );
    }
}

/// Server nodes listed one by one up to this count; beyond it a summary.
const NODES_LISTED_IN_FULL: usize = 16;

/// The rows of the nodes table, in node order: every node of a short table; of a long
/// one, the three busiest and three idlest by ops, the median, and every node a finding
/// names (so a binding node is never hidden).
fn summarized_rows(v: &VariantReport) -> Vec<usize> {
    let n = v.nodes.len();
    if n <= NODES_LISTED_IN_FULL {
        return (0..n).collect();
    }
    let mut by_ops: Vec<usize> = (0..n).collect();
    by_ops.sort_by(|&a, &b| v.nodes[b].ops.cmp(&v.nodes[a].ops).then(a.cmp(&b)));
    let mut rows: Vec<usize> = by_ops[..3]
        .iter()
        .chain(&by_ops[n - 3..])
        .copied()
        .chain(std::iter::once(by_ops[n / 2]))
        .chain(
            v.nodes
                .iter()
                .enumerate()
                .filter(|(_, node)| v.findings.iter().any(|f| f.node == node.name))
                .map(|(i, _)| i),
        )
        .collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

fn node_row(
    o: &mut String,
    n: &NodeReport,
    burst_spend_bits_per_s: Option<u64>,
    started_empty: bool,
) {
    let util = if n.cpu_utilization.is_empty() {
        "-".to_string()
    } else {
        n.cpu_utilization
            .iter()
            .map(|u| format!("{:.1}%", u * 100.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let credits = match burst_spend_bits_per_s {
        Some(spend) if spend > 0 => format!(
            "{:.2} Gbit ({})",
            n.net_credits_end as f64 / 1e9,
            crate::units::seconds(n.net_credits_end as f64 / spend as f64)
        ),
        _ => "-".into(),
    };
    let depleted = match n.net_credits_depleted_at_ms {
        Some(ms) if ms == 0.0 && started_empty => "started empty".to_string(),
        Some(ms) => format!("at {:.2} s", ms / 1e3),
        None => "-".into(),
    };
    let rate = format!(
        "{:.3} ({:.3})",
        n.net_out_bits_per_s / 1e9,
        n.net_baseline_bits_per_s as f64 / 1e9
    );
    let _ = writeln!(
        o,
        "  {:<14} {:>10} {:>14} {:>10.1} {:>10.1} {:>17} {:>9} {:>10} {:>20} {:>15} {:>7} {:>10.1}",
        n.name,
        n.ops,
        util,
        n.net_in_bytes as f64 / 1_048_576.0,
        n.net_out_bytes as f64 / 1_048_576.0,
        rate,
        n.bw_in_allowance_exceeded,
        n.bw_out_allowance_exceeded,
        credits,
        depleted,
        n.drops,
        n.used_memory_bytes as f64 / 1_048_576.0
    );
}

/// One variant's section of the text report, as `render` prints it.
pub(crate) fn variant_text(v: &VariantReport) -> String {
    let mut o = String::new();
    variant(&mut o, v);
    o
}

/// One variant's findings, as the text report prints them.
pub(crate) fn findings_text(v: &VariantReport) -> String {
    let mut o = String::new();
    findings(&mut o, v);
    o
}

//! Noisy neighbours: the physical hosts some nodes share with other tenants, the
//! neighbours' on/off processes, and the host's arbitration of its NIC and cores.
//!
//! Bandwidth ([`arbitrate`]): every tenant's baseline is guaranteed while it asks for it;
//! what the NIC has left after the baselines in use is spare (an idle tenant's baseline
//! is spare too), shared max-min fairly among the tenants asking for burst, each capped
//! by its own burst rate and by its credits. The scenario's node is taken to ask for its
//! whole burst whenever the host arbitrates (what it is granted is what it could use;
//! its shaper then sends what its traffic needs, spending credits only above its
//! baseline); a neighbour asks, while on, for its demand. The node's grant becomes its
//! NIC's burst cap ([`sim::net::Network::set_host_burst_cap`]), both directions.
//!
//! CPU: the neighbours' demand (vCPUs busy while on) competes with the node's runnable
//! vCPUs for the host's cores by processor sharing ([`sim::host::HostCpu`]); the time a
//! node's runnable thread waits for a core is steal.
//!
//! Each neighbour draws its periods from its own random stream (labelled by host and
//! neighbour), so turning neighbours on changes no other component's draws. The host
//! re-arbitrates only when a neighbour turns on or off or runs out of credits, so a run
//! pays a few events per neighbour period, not per message.
//!
//! Invariants (property tests on [`arbitrate`]): no tenant gets less than its baseline
//! while it asks for it; the grants never add up to more than the NIC; the burst
//! granted never exceeds the spare; burst is withheld from a tenant only while the host
//! is full (the tenants ask for more burst than the spare).

use super::{Ctx, Ev};
use crate::scenario::resolve::{Activity, PhysicalHostConfig};
use serde::{Deserialize, Serialize};
use sim::net::NicId;
use sim::rng::{exponential, unit_f64, unit_f64_nonzero, RngStreams};
use sim::stats::BusySeries;
use sim::time::NS_PER_S;
use sim::{Scheduler, SimDuration, SimRng, SimTime};

/// The neighbours' events.
#[derive(Clone, Copy, Debug)]
pub enum NeighbourEv {
    /// A neighbour turns on or off.
    Toggle { host: u32, neighbour: u16 },
    /// A neighbour's credits run out (stale unless `epoch` is its live one).
    CreditsOut {
        host: u32,
        neighbour: u16,
        epoch: u32,
    },
}

impl From<NeighbourEv> for Ev {
    fn from(e: NeighbourEv) -> Ev {
        Ev::Neighbour(e)
    }
}

/// One tenant's ask of a host's NIC, each direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    pub baseline_bits_per_s: u64,
    /// The rate it wants now, baseline included (0: idle).
    pub demand_bits_per_s: u64,
    /// The most burst above its baseline it may take now: its burst rate less its
    /// baseline, or 0 without credits.
    pub burst_headroom_bits_per_s: u64,
}

/// What the host grants one tenant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// Of its baseline, what it uses (all it asks for, up to the baseline).
    pub baseline_bits_per_s: u64,
    /// Above its baseline.
    pub burst_bits_per_s: u64,
    /// The burst it asked for and did not get.
    pub denied_bits_per_s: u64,
}

/// The host's arbitration of its NIC (see the module doc), into `out` (one grant per
/// ask); returns whether the host is full (the burst asked exceeds the spare).
pub fn arbitrate(nic_bits_per_s: u64, asks: &[Ask], out: &mut Vec<Grant>) -> bool {
    out.clear();
    let mut in_use = 0u64;
    for a in asks {
        let base = a.demand_bits_per_s.min(a.baseline_bits_per_s);
        in_use = in_use.saturating_add(base);
        out.push(Grant {
            baseline_bits_per_s: base,
            burst_bits_per_s: 0,
            denied_bits_per_s: 0,
        });
    }
    let spare = nic_bits_per_s.saturating_sub(in_use);
    let wants = |a: &Ask| {
        a.demand_bits_per_s
            .saturating_sub(a.baseline_bits_per_s)
            .min(a.burst_headroom_bits_per_s)
    };
    let asked = asks.iter().map(wants).fold(0u64, u64::saturating_add);
    if asked <= spare {
        for (g, a) in out.iter_mut().zip(asks) {
            g.burst_bits_per_s = wants(a);
        }
        return false;
    }
    // Water-filling: the smallest asks are met in full, the rest share what is left
    // equally (in whole bits per second, rounded down: a few bits stay unassigned).
    let mut order: Vec<usize> = (0..asks.len()).filter(|&i| wants(&asks[i]) > 0).collect();
    order.sort_by_key(|&i| (wants(&asks[i]), i));
    let mut left = spare;
    let mut remaining = order.len() as u64;
    for &i in &order {
        let share = left / remaining;
        let w = wants(&asks[i]);
        let g = w.min(share);
        out[i].burst_bits_per_s = g;
        out[i].denied_bits_per_s = w - g;
        left -= g;
        remaining -= 1;
    }
    true
}

/// A neighbour's live state.
struct Neighbour {
    on: bool,
    rng: SimRng,
    /// The next window of a schedule.
    next_window: usize,
    /// Credits in nanobits, when it has a bucket; exact as of `clock`.
    credits_nanobits: Option<u128>,
    capacity_nanobits: u128,
    clock: SimTime,
    /// The burst granted now (bits/s).
    granted_burst: u64,
    epoch: u32,
    /// Time on, and the burst granted (bits: the rate granted x time), per second.
    on_ns: BusySeries,
    burst_bits: Vec<u64>,
}

/// One shared host.
struct SharedHost {
    cfg: PhysicalHostConfig,
    nic: NicId,
    own_baseline: u64,
    own_burst: u64,
    neighbours: Vec<Neighbour>,
    /// The node's NIC burst cap in force (None: its own).
    cap: Option<u64>,
    /// Whether the host is full now, and since when the series below are exact.
    full: bool,
    since: SimTime,
    /// The burst rate above its baseline the host allows the node, x time (bits), per
    /// second.
    own_burst_bits: Vec<u64>,
    /// Time full, per second of the run.
    full_ns: BusySeries,
    /// Time with some neighbour on, per second.
    any_on_ns: BusySeries,
    cpu_demand_milli: u64,
}

/// Every shared host of a world (none without `hosts`).
pub(crate) struct Neighbours {
    hosts: Vec<SharedHost>,
    asks: Vec<Ask>,
    grants: Vec<Grant>,
}

/// What the neighbours and their hosts did, second by second (the report takes the
/// measured window's seconds, as for every other series).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeighboursResult {
    pub hosts: Vec<SharedHostResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedHostResult {
    pub name: String,
    /// The node it carries.
    pub node: u32,
    /// Time the NIC was full, per second of the run.
    pub full_ns_per_s: Vec<u64>,
    /// Time with some neighbour on, per second of the run.
    pub neighbour_on_ns_per_s: Vec<u64>,
    /// The burst rate above its baseline the host allowed the node, x time: bits per
    /// second of the run (what it could have sent above its baseline, not what it sent).
    pub node_burst_allowed_bits_per_s: Vec<u64>,
    pub neighbours: Vec<NeighbourResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeighbourResult {
    pub name: String,
    /// Time on, and the burst it was granted (bits), per second of the run.
    pub on_ns_per_s: Vec<u64>,
    pub burst_granted_bits_per_s: Vec<u64>,
}

impl Neighbours {
    /// The shared hosts of `hosts`, host h carrying the node whose NIC is `nics[h]`, of
    /// baseline and burst `own`.
    pub(crate) fn build(
        hosts: &[PhysicalHostConfig],
        nics: &[NicId],
        own: (u64, u64),
        streams: &RngStreams,
    ) -> Neighbours {
        let hosts = hosts
            .iter()
            .enumerate()
            .map(|(h, cfg)| SharedHost {
                nic: nics[h],
                own_baseline: own.0,
                own_burst: own.1,
                neighbours: cfg
                    .neighbours
                    .iter()
                    .map(|n| Neighbour {
                        on: false,
                        // Named by host and neighbour, their lengths first so that no two
                        // pairs of names spell one label: the same neighbour acts alike
                        // in every variant, wherever the lists put it.
                        rng: streams.stream(
                            &format!(
                                "neighbour/{}:{}/{}:{}",
                                cfg.name.len(),
                                cfg.name,
                                n.name.len(),
                                n.name
                            ),
                            0,
                        ),
                        next_window: 0,
                        credits_nanobits: n
                            .credit_capacity_bits
                            .map(|c| c as u128 * NS_PER_S as u128),
                        capacity_nanobits: n.credit_capacity_bits.unwrap_or(0) as u128
                            * NS_PER_S as u128,
                        clock: SimTime::ZERO,
                        granted_burst: 0,
                        epoch: 0,
                        on_ns: BusySeries::default(),
                        burst_bits: Vec::new(),
                    })
                    .collect(),
                cfg: cfg.clone(),
                cap: None,
                full: false,
                since: SimTime::ZERO,
                own_burst_bits: Vec::new(),
                full_ns: BusySeries::default(),
                any_on_ns: BusySeries::default(),
                cpu_demand_milli: 0,
            })
            .collect();
        Neighbours {
            hosts,
            asks: Vec::new(),
            grants: Vec::new(),
        }
    }

    /// Each shared host's node and its cores, for the engine's CPUs.
    pub(crate) fn node_cores(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.hosts.iter().map(|h| (h.cfg.node, h.cfg.cores))
    }

    /// Schedules every neighbour's first change: a neighbour with on/off periods starts
    /// on with the probability of its duty cycle, for a period drawn afresh.
    pub(crate) fn start(&mut self, sched: &mut Scheduler<Ev>) {
        for (h, host) in self.hosts.iter_mut().enumerate() {
            for (k, n) in host.neighbours.iter_mut().enumerate() {
                let cfg = &host.cfg.neighbours[k];
                let first = match &cfg.activity {
                    Activity::Always => Some(SimTime::ZERO),
                    Activity::Exponential { .. } | Activity::Pareto { .. } => {
                        let duty = cfg.activity.duty_cycle(1);
                        if unit_f64(&mut n.rng) < duty {
                            Some(SimTime::ZERO)
                        } else {
                            Some(SimTime::ZERO + period(&cfg.activity, false, &mut n.rng))
                        }
                    }
                    Activity::Schedule(w) => Some(SimTime::from_ns(w[0].0)),
                };
                if let Some(at) = first {
                    sched.schedule_at(
                        at,
                        NeighbourEv::Toggle {
                            host: h as u32,
                            neighbour: k as u16,
                        }
                        .into(),
                    );
                }
            }
        }
    }

    /// Handles `ev`; returns the node whose co-tenant CPU demand changed, with the new
    /// demand, for the engine to apply.
    pub(crate) fn handle(&mut self, ctx: &mut Ctx<'_>, ev: NeighbourEv) -> Option<(u32, u64)> {
        let now = ctx.sched.now();
        let (h, k) = match ev {
            NeighbourEv::Toggle { host, neighbour } => (host as usize, neighbour as usize),
            NeighbourEv::CreditsOut {
                host,
                neighbour,
                epoch,
            } => {
                if self.hosts[host as usize].neighbours[neighbour as usize].epoch != epoch {
                    return None;
                }
                (host as usize, neighbour as usize)
            }
        };
        let host = &mut self.hosts[h];
        settle(host, now);
        for (n, cfg) in host.neighbours.iter_mut().zip(&host.cfg.neighbours) {
            settle_credits(n, cfg.baseline_bits_per_s, cfg.net_bits_per_s, now);
        }
        if let NeighbourEv::Toggle { .. } = ev {
            let n = &mut host.neighbours[k];
            let cfg = &host.cfg.neighbours[k];
            n.on = !n.on;
            let next = match &cfg.activity {
                Activity::Always => None,
                Activity::Exponential { .. } | Activity::Pareto { .. } => {
                    Some(now + period(&cfg.activity, n.on, &mut n.rng))
                }
                Activity::Schedule(w) => {
                    if n.on {
                        Some(SimTime::from_ns(w[n.next_window].1))
                    } else {
                        n.next_window += 1;
                        w.get(n.next_window)
                            .map(|&(from, _)| SimTime::from_ns(from))
                    }
                }
            };
            if let Some(at) = next {
                ctx.sched.schedule_at(
                    at,
                    NeighbourEv::Toggle {
                        host: h as u32,
                        neighbour: k as u16,
                    }
                    .into(),
                );
            }
        } else if let Some(c) = host.neighbours[k].credits_nanobits.as_mut() {
            *c = 0;
        }
        self.rearbitrate(ctx, h);
        let host = &mut self.hosts[h];
        let demand: u64 = host
            .neighbours
            .iter()
            .zip(&host.cfg.neighbours)
            .filter(|(n, _)| n.on)
            .map(|(_, c)| c.cpu_milli_vcpus)
            .sum();
        if demand != host.cpu_demand_milli {
            host.cpu_demand_milli = demand;
            return Some((host.cfg.node, demand));
        }
        None
    }

    /// Arbitrates host `h`'s NIC now and applies the grants: the node's burst cap, each
    /// neighbour's burst and its credits' run-out event.
    fn rearbitrate(&mut self, ctx: &mut Ctx<'_>, h: usize) {
        let now = ctx.sched.now();
        let host = &mut self.hosts[h];
        self.asks.clear();
        self.asks.push(Ask {
            baseline_bits_per_s: host.own_baseline,
            demand_bits_per_s: host.own_burst,
            burst_headroom_bits_per_s: host.own_burst - host.own_baseline,
        });
        for (n, cfg) in host.neighbours.iter().zip(&host.cfg.neighbours) {
            let has_credits = n.credits_nanobits.is_none_or(|c| c > 0);
            self.asks.push(Ask {
                baseline_bits_per_s: cfg.baseline_bits_per_s,
                demand_bits_per_s: if n.on { cfg.net_bits_per_s } else { 0 },
                burst_headroom_bits_per_s: if has_credits {
                    cfg.burst_bits_per_s - cfg.baseline_bits_per_s
                } else {
                    0
                },
            });
        }
        host.full = arbitrate(host.cfg.nic_bits_per_s, &self.asks, &mut self.grants);
        let own = self.grants[0];
        let cap = (own.denied_bits_per_s > 0).then(|| host.own_baseline + own.burst_bits_per_s);
        if cap != host.cap {
            host.cap = cap;
            ctx.net.set_host_burst_cap(now, host.nic, cap);
        }
        for (k, (n, g)) in host
            .neighbours
            .iter_mut()
            .zip(&self.grants[1..])
            .enumerate()
        {
            n.granted_burst = g.burst_bits_per_s;
            if let Some(c) = n.credits_nanobits {
                // A run-out scheduled under the previous grant is stale now.
                n.epoch = n.epoch.wrapping_add(1);
                if n.granted_burst > 0 {
                    let ns = c
                        .div_ceil(n.granted_burst as u128)
                        .min(u64::MAX as u128 / 4) as u64;
                    ctx.sched.schedule_at(
                        now + SimDuration::from_ns(ns),
                        NeighbourEv::CreditsOut {
                            host: h as u32,
                            neighbour: k as u16,
                            epoch: n.epoch,
                        }
                        .into(),
                    );
                }
            }
        }
    }

    /// The results, every series settled at `end`.
    pub(crate) fn finish(mut self, end: SimTime) -> Option<NeighboursResult> {
        if self.hosts.is_empty() {
            return None;
        }
        let hosts = self
            .hosts
            .iter_mut()
            .map(|host| {
                settle(host, end);
                SharedHostResult {
                    name: host.cfg.name.clone(),
                    node: host.cfg.node,
                    full_ns_per_s: host.full_ns.busy_ns_per_s().to_vec(),
                    neighbour_on_ns_per_s: host.any_on_ns.busy_ns_per_s().to_vec(),
                    node_burst_allowed_bits_per_s: std::mem::take(&mut host.own_burst_bits),
                    neighbours: host
                        .neighbours
                        .iter_mut()
                        .zip(&host.cfg.neighbours)
                        .map(|(n, c)| NeighbourResult {
                            name: c.name.clone(),
                            on_ns_per_s: n.on_ns.busy_ns_per_s().to_vec(),
                            burst_granted_bits_per_s: std::mem::take(&mut n.burst_bits),
                        })
                        .collect(),
                }
            })
            .collect();
        Some(NeighboursResult { hosts })
    }
}

/// Brings a host's series up to `now` under the state in force since `host.since`.
fn settle(host: &mut SharedHost, now: SimTime) {
    if now <= host.since {
        return;
    }
    if host.full {
        host.full_ns.add(host.since, now);
    }
    if host.neighbours.iter().any(|n| n.on) {
        host.any_on_ns.add(host.since, now);
    }
    let own_burst = host
        .cap
        .unwrap_or(host.own_burst)
        .saturating_sub(host.own_baseline);
    add_rate(&mut host.own_burst_bits, host.since, now, own_burst);
    for n in &mut host.neighbours {
        if n.on {
            n.on_ns.add(host.since, now);
            add_rate(&mut n.burst_bits, host.since, now, n.granted_burst);
        }
    }
    host.since = now;
}

/// Adds `bits_per_s` over [from, to) to `per_s`, second by second (each second's bits
/// rounded down).
fn add_rate(per_s: &mut Vec<u64>, from: SimTime, to: SimTime, bits_per_s: u64) {
    if bits_per_s == 0 {
        return;
    }
    let (mut t, end) = (from.as_ns(), to.as_ns());
    while t < end {
        let s = (t / NS_PER_S) as usize;
        let upto = ((s as u64 + 1) * NS_PER_S).min(end);
        if per_s.len() <= s {
            per_s.resize(s + 1, 0);
        }
        per_s[s] += (u128::from(bits_per_s) * u128::from(upto - t) / u128::from(NS_PER_S)) as u64;
        t = upto;
    }
}

/// Brings a neighbour's credits up to `now`: earned at its baseline less what it uses
/// of it, spent at the burst it was granted, within [0, capacity] (a run-out is an
/// event of its own, so they never go below 0 in between).
fn settle_credits(n: &mut Neighbour, baseline: u64, demand: u64, now: SimTime) {
    let dt = (now.as_ns() - n.clock.as_ns()) as u128;
    n.clock = now;
    let Some(c) = n.credits_nanobits.as_mut() else {
        return;
    };
    let used = if n.on { demand.min(baseline) } else { 0 };
    let earn = (baseline - used) as u128 * dt;
    let spend = if n.on {
        n.granted_burst as u128 * dt
    } else {
        0
    };
    // One of the two is zero: a tenant earns only below its baseline, spends only above.
    *c = (*c + earn).min(n.capacity_nanobits).saturating_sub(spend);
}

/// A period of `activity` (on when `on`).
fn period(activity: &Activity, on: bool, rng: &mut SimRng) -> SimDuration {
    let ns = match *activity {
        Activity::Exponential {
            on_mean_ns,
            off_mean_ns,
        } => exponential(rng, if on { on_mean_ns } else { off_mean_ns } as f64),
        Activity::Pareto {
            on_mean_ns,
            off_mean_ns,
            shape,
        } => {
            let mean = if on { on_mean_ns } else { off_mean_ns } as f64;
            let scale = mean * (shape - 1.0) / shape;
            scale / libm::pow(unit_f64_nonzero(rng), 1.0 / shape)
        }
        Activity::Always | Activity::Schedule(_) => unreachable!("no drawn periods"),
    };
    // At least 1 ns, at most a day: a toggle always moves time forward.
    SimDuration::from_ns((libm::round(ns) as u64).clamp(1, 86_400 * NS_PER_S))
}

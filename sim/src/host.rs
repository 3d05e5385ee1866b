//! Hosts' CPU. A host's vCPUs ([`HostCpu`]) are shared by the threads that run on it (a
//! node's engine threads, a client host's memtier threads) by processor sharing: while
//! no more threads are runnable than there are vCPUs, each runs at full speed; beyond,
//! every runnable thread progresses at vCPUs / runnable of full speed, and the
//! completion time of every running job is recomputed when the number of runnable
//! threads changes (each recomputation bumps the thread's epoch, so the owner can tell
//! the event it scheduled last from the stale ones). A thread runs one job at a time;
//! its owner keeps the queue. What a thread consumes is recorded as vCPU-nanoseconds,
//! and the time it was runnable but without a vCPU as contention.
//!
//! The threads of a burstable host (t4g-style) share a CPU credit balance
//! ([`CpuCredits`]): earned continuously at the baseline share of every vCPU, spent by
//! running threads, capped at a maximum; when it is empty, threads run at the baseline
//! share of full speed. A job's credit charge is settled when it starts (a job that
//! starts with credits left runs at full speed for as long as they last, then at the
//! baseline share), before any sharing of vCPUs, which then stretches it further.
//!
//! An instance on a shared physical host ([`HostCpu::share_cores`],
//! [`HostCpu::set_co_tenant_demand`]) also competes for the host's cores: while its
//! runnable vCPUs (at most its vCPU count) and the other tenants' demand (in vCPUs) add
//! up to more than the cores, every runnable vCPU runs at cores / total of full speed,
//! and the time a runnable thread waits for a core is recorded as steal, as a
//! hypervisor reports it. A host that shares no cores computes exactly as before, bit
//! for bit.
//!
//! [`CpuThread`] is a lone FIFO server whose completion times are known at submission,
//! for models that need no host.
//!
//! The kernel's network work ([`HostCpu::set_kernel_demand`], in milli-vCPUs) runs on
//! the instance's own vCPUs ahead of the threads, as softirq processing preempts user
//! code: while it and the runnable threads need more than the vCPUs, the threads share
//! what it leaves, each at (vCPUs - kernel) / runnable of full speed, the rest of their
//! wall time counted as contention. A host whose kernel demand is zero computes exactly
//! as before.
//!
//! Invariants: in any interval, the vCPU-time a host's threads consume is at most its
//! vCPU count times the interval (per second of the recorded series, too); busy,
//! contended and stolen time add up to each running job's wall time (to a nanosecond
//! per settlement); a thread's jobs complete in the order started; the credit balance
//! stays within [0, maximum].

use crate::stats::BusySeries;
use crate::time::{div_ceil_u128, SimDuration, SimTime, NS_PER_S};

/// Burstable CPU credits. One credit is one vCPU at 100% for one minute (AWS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CpuCreditConfig {
    /// Credits earned per hour by the whole instance.
    pub earned_per_hour: u64,
    /// The most credits the instance can hold.
    pub max_balance: u64,
    /// Credits at the start of the run.
    pub initial_balance: u64,
    /// The share of full speed a thread gets when credits run out, in percent.
    pub baseline_percent: u64,
}

const NS_PER_CREDIT: u128 = 60 * NS_PER_S as u128; // one vCPU-minute

/// The shared credit balance of a burstable host, in vCPU-nanoseconds.
#[derive(Clone, Debug)]
pub struct CpuCredits {
    cfg: CpuCreditConfig,
    balance_vcpu_ns: u128,
    max_vcpu_ns: u128,
    clock: SimTime,
    depleted_at: Option<SimTime>,
}

impl CpuCredits {
    pub fn new(cfg: CpuCreditConfig) -> CpuCredits {
        assert!(
            cfg.baseline_percent > 0 && cfg.baseline_percent <= 100,
            "baseline_percent must be in 1..=100"
        );
        CpuCredits {
            balance_vcpu_ns: cfg.initial_balance.min(cfg.max_balance) as u128 * NS_PER_CREDIT,
            max_vcpu_ns: cfg.max_balance as u128 * NS_PER_CREDIT,
            cfg,
            clock: SimTime::ZERO,
            depleted_at: None,
        }
    }

    fn accrue(&mut self, now: SimTime) {
        if now > self.clock {
            // earned_per_hour credits per 3600 s = earned_per_hour / 60 vCPU-ns per ns.
            let earned = self.cfg.earned_per_hour as u128 * (now - self.clock).as_ns() as u128 / 60;
            self.balance_vcpu_ns = (self.balance_vcpu_ns + earned).min(self.max_vcpu_ns);
            self.clock = now;
        }
    }

    /// Credits held at `now`, in whole credits.
    pub fn balance(&mut self, now: SimTime) -> u64 {
        self.accrue(now);
        (self.balance_vcpu_ns / NS_PER_CREDIT) as u64
    }

    /// When the balance first ran out, if it has.
    pub fn depleted_at(&self) -> Option<SimTime> {
        self.depleted_at
    }

    /// Runs `work` (ns at full speed) starting at `start`: returns the wall duration.
    fn run(&mut self, start: SimTime, work: SimDuration) -> SimDuration {
        self.accrue(start);
        let w = work.as_ns() as u128;
        if self.balance_vcpu_ns >= w {
            self.balance_vcpu_ns -= w;
            return work;
        }
        // Full speed while credits last, the baseline share after.
        let full = self.balance_vcpu_ns;
        self.balance_vcpu_ns = 0;
        self.depleted_at
            .get_or_insert(start + SimDuration::from_ns(full as u64));
        let throttled = div_ceil_u128((w - full) * 100, self.cfg.baseline_percent as u128);
        SimDuration::from_ns(full as u64 + throttled)
    }
}

/// A lone FIFO server (no host, no sharing): its jobs' completion times are known at
/// submission.
#[derive(Clone, Debug, Default)]
pub struct CpuThread {
    busy_until: SimTime,
    jobs: u64,
    pub busy: BusySeries,
}

impl CpuThread {
    pub fn new() -> CpuThread {
        CpuThread::default()
    }

    /// Queues `work` at `now`; returns when it completes. With `credits`, the work is
    /// charged to the host's balance and slowed to the baseline share when it is empty.
    pub fn submit(
        &mut self,
        now: SimTime,
        work: SimDuration,
        credits: Option<&mut CpuCredits>,
    ) -> SimTime {
        let start = self.busy_until.max(now);
        let duration = match credits {
            Some(c) => c.run(start, work),
            None => work,
        };
        let end = start + duration;
        self.busy.add(start, end);
        self.busy_until = end;
        self.jobs += 1;
        end
    }

    /// When the thread next becomes idle (<= now if it is idle).
    pub fn busy_until(&self) -> SimTime {
        self.busy_until
    }

    /// Time a job submitted at `now` would wait before starting.
    pub fn queue_delay(&self, now: SimTime) -> SimDuration {
        self.busy_until.saturating_since(now)
    }

    pub fn jobs(&self) -> u64 {
        self.jobs
    }
}

/// A job's completion time, for the owner to schedule; only the completion with the
/// thread's current `epoch` is live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub thread: u32,
    pub at: SimTime,
    pub epoch: u16,
}

#[derive(Clone, Copy, Debug)]
struct RunningJob {
    /// Work left at `since`, in nanoseconds at full speed (after the credit charge).
    remaining_ns: u64,
    since: SimTime,
    done_at: SimTime,
}

/// One thread of a host.
#[derive(Clone, Debug, Default)]
pub struct HostThread {
    job: Option<RunningJob>,
    epoch: u16,
    jobs: u64,
    /// vCPU-nanoseconds consumed, per second.
    pub busy: BusySeries,
    /// Nanoseconds runnable without a vCPU (the host's vCPUs were all taken), per second.
    pub contended: BusySeries,
    /// Nanoseconds runnable on a vCPU that had no core (co-tenants took the physical
    /// host's cores), per second: steal.
    pub stolen: BusySeries,
}

impl HostThread {
    /// Jobs started.
    pub fn jobs(&self) -> u64 {
        self.jobs
    }

    /// The thread has a job in progress.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }
}

/// A host's vCPUs and the threads sharing them.
#[derive(Clone, Debug)]
pub struct HostCpu {
    vcpus: u32,
    /// Threads with a job in progress.
    runnable: u32,
    threads: Vec<HostThread>,
    credits: Option<CpuCredits>,
    /// The physical host's cores and the other tenants' demand, when shared.
    cores: Option<CoreShare>,
    /// The kernel's network work on these vCPUs, in milli-vCPUs (0: none modelled).
    kernel_milli: u64,
}

/// The physical host's cores as this instance sees them, in milli-vCPUs (a core runs one
/// vCPU at full speed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CoreShare {
    cores_milli: u64,
    /// What the other tenants run now.
    others_milli: u64,
}

/// A running thread's share of full speed, num / den, and how its wall time splits:
/// busy (num / den), waiting for a vCPU (contended_num / den) and waiting for a core
/// (stolen_num / den).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Share {
    num: u64,
    den: u64,
    contended_num: u64,
    stolen_num: u64,
}

impl Share {
    const FULL: Share = Share {
        num: 1,
        den: 1,
        contended_num: 0,
        stolen_num: 0,
    };

    fn is_full(&self) -> bool {
        self.num == self.den
    }
}

impl HostCpu {
    /// A host of `vcpus` vCPUs (at least 1) running `threads` threads.
    pub fn new(vcpus: u32, threads: u32, credits: Option<CpuCredits>) -> HostCpu {
        HostCpu {
            vcpus: vcpus.max(1),
            runnable: 0,
            threads: vec![HostThread::default(); threads as usize],
            credits,
            cores: None,
            kernel_milli: 0,
        }
    }

    /// The kernel's network work needs `demand_milli` milli-vCPUs of this instance's
    /// vCPUs from `now` (capped at 95% of them: a thread always progresses): every
    /// running job's progress is recorded at the old share and its completion
    /// recomputed at the new one (pushed onto `out` when it moves). Not combined with
    /// [`HostCpu::share_cores`].
    pub fn set_kernel_demand(
        &mut self,
        now: SimTime,
        demand_milli: u64,
        out: &mut Vec<Completion>,
    ) {
        debug_assert!(self.cores.is_none(), "kernel demand on a shared host");
        let demand_milli = demand_milli.min(u64::from(self.vcpus) * 950);
        if demand_milli == self.kernel_milli {
            return;
        }
        let old = self.share(self.runnable);
        self.kernel_milli = demand_milli;
        self.reshare_from(now, old, self.runnable, out);
    }

    /// The kernel's network demand in force, in milli-vCPUs.
    pub fn kernel_demand_milli(&self) -> u64 {
        self.kernel_milli
    }

    /// Shares a physical host of `cores` with other tenants (see the module doc); their
    /// demand starts at zero.
    pub fn share_cores(&mut self, cores: u32) {
        self.cores = Some(CoreShare {
            cores_milli: u64::from(cores.max(1)) * 1_000,
            others_milli: 0,
        });
    }

    /// The other tenants of the physical host run `demand_milli` milli-vCPUs from `now`:
    /// every running job's progress is recorded at the old share and its completion
    /// recomputed at the new one (pushed onto `out` when it moves).
    pub fn set_co_tenant_demand(
        &mut self,
        now: SimTime,
        demand_milli: u64,
        out: &mut Vec<Completion>,
    ) {
        let Some(c) = self.cores else {
            debug_assert!(false, "set_co_tenant_demand on a host that shares no cores");
            return;
        };
        if c.others_milli == demand_milli {
            return;
        }
        let old = self.share(self.runnable);
        self.cores = Some(CoreShare {
            others_milli: demand_milli,
            ..c
        });
        self.reshare_from(now, old, self.runnable, out);
    }

    /// Whether the share of a running thread may change with the number of runnable
    /// threads even while they fit the vCPUs: this instance's vCPUs, with what the
    /// co-tenants run, could overcommit the physical host's cores.
    #[inline]
    fn cores_contended(&self) -> bool {
        self.cores
            .is_some_and(|c| u64::from(self.vcpus) * 1_000 + c.others_milli > c.cores_milli)
    }

    /// The share of each running thread when `runnable` threads run.
    #[inline]
    fn share(&self, runnable: u32) -> Share {
        let vcpus = self.vcpus;
        if self.kernel_milli > 0 {
            // The kernel runs first; the threads share what it leaves.
            let left_milli = u64::from(vcpus) * 1_000 - self.kernel_milli;
            let want_milli = u64::from(runnable) * 1_000;
            if want_milli <= left_milli {
                return Share::FULL;
            }
            return Share {
                num: left_milli,
                den: want_milli,
                contended_num: want_milli - left_milli,
                stolen_num: 0,
            };
        }
        let on_vcpus = u64::from(runnable.min(vcpus));
        let runnable = u64::from(runnable);
        // The speed of a vCPU that runs: a core each, or cores / demand of one.
        let (speed_num, speed_den) = match self.cores {
            Some(c) if on_vcpus * 1_000 + c.others_milli > c.cores_milli => {
                (c.cores_milli, on_vcpus * 1_000 + c.others_milli)
            }
            _ => {
                if runnable <= u64::from(vcpus) {
                    return Share::FULL;
                }
                (1, 1)
            }
        };
        Share {
            num: on_vcpus * speed_num,
            den: runnable * speed_den,
            contended_num: (runnable - on_vcpus) * speed_den,
            stolen_num: on_vcpus * (speed_den - speed_num),
        }
    }

    pub fn vcpus(&self) -> u32 {
        self.vcpus
    }

    pub fn threads(&self) -> &[HostThread] {
        &self.threads
    }

    pub fn thread(&self, thread: u32) -> &HostThread {
        &self.threads[thread as usize]
    }

    /// When the run is over: records every running job's progress up to `now`.
    pub fn settle(&mut self, now: SimTime) {
        let share = self.share(self.runnable);
        for t in &mut self.threads {
            settle_thread(t, now, share);
        }
    }

    /// Starts `work` (at full speed) on the idle `thread` at `now`; returns its
    /// completion. When the vCPUs are oversubscribed after the start, every other
    /// running job's completion is rescheduled and pushed onto `out` (which a caller
    /// whose threads never outnumber the vCPUs finds empty).
    #[inline]
    pub fn start(
        &mut self,
        now: SimTime,
        thread: u32,
        work: SimDuration,
        out: &mut Vec<Completion>,
    ) -> Completion {
        let work = match &mut self.credits {
            Some(c) => c.run(now, work),
            None => work,
        };
        debug_assert!(
            self.threads[thread as usize].job.is_none(),
            "one job at a time"
        );
        if self.runnable >= self.vcpus || self.cores_contended() || self.kernel_milli > 0 {
            self.reshare(now, self.runnable + 1, out);
        } else {
            self.runnable += 1;
        }
        let share = self.share(self.runnable);
        let t = &mut self.threads[thread as usize];
        t.jobs += 1;
        t.epoch = t.epoch.wrapping_add(1);
        let done_at = now + stretch(work.as_ns(), share);
        t.job = Some(RunningJob {
            remaining_ns: work.as_ns(),
            since: now,
            done_at,
        });
        Completion {
            thread,
            at: done_at,
            epoch: t.epoch,
        }
    }

    /// A completion event of `thread` at `now`: returns false when it is stale (its job
    /// was rescheduled). Otherwise the job is over and the thread idle; pushes onto
    /// `out` the rescheduled completions of the others when the vCPUs were
    /// oversubscribed.
    #[inline]
    pub fn finish(
        &mut self,
        now: SimTime,
        thread: u32,
        epoch: u16,
        out: &mut Vec<Completion>,
    ) -> bool {
        let runnable = self.runnable;
        match self.threads[thread as usize].job {
            Some(j) if self.threads[thread as usize].epoch == epoch && j.done_at == now => {}
            _ => return false,
        }
        // Only a live completion needs its share: stale ones are many while threads
        // contend.
        let share = self.share(runnable);
        let t = &mut self.threads[thread as usize];
        settle_thread(t, now, share);
        t.job = None;
        if runnable > self.vcpus || self.cores_contended() || self.kernel_milli > 0 {
            self.reshare(now, runnable - 1, out);
        } else {
            self.runnable -= 1;
        }
        true
    }

    /// The number of runnable threads becomes `runnable`: every running job's progress
    /// is recorded at the old share and its completion recomputed at the new one.
    #[cold]
    fn reshare(&mut self, now: SimTime, runnable: u32, out: &mut Vec<Completion>) {
        let old = self.share(self.runnable);
        if old.is_full() && self.share(runnable).is_full() {
            // Every running job keeps running at full speed and so keeps its
            // completion; progress is settled at the next change.
            self.runnable = runnable;
            return;
        }
        self.reshare_from(now, old, runnable, out);
    }

    /// Records every running job's progress at share `old` and recomputes its
    /// completion with `runnable` threads at the share in force now.
    fn reshare_from(&mut self, now: SimTime, old: Share, runnable: u32, out: &mut Vec<Completion>) {
        let new = self.share(runnable);
        for (i, t) in self.threads.iter_mut().enumerate() {
            if t.job.is_none() {
                continue;
            }
            settle_thread(t, now, old);
            let j = t.job.as_mut().expect("checked");
            let done_at = now + stretch(j.remaining_ns, new);
            if done_at != j.done_at {
                j.done_at = done_at;
                t.epoch = t.epoch.wrapping_add(1);
                out.push(Completion {
                    thread: i as u32,
                    at: done_at,
                    epoch: t.epoch,
                });
            }
        }
        self.runnable = runnable;
    }
}

/// Wall time `work_ns` of work takes at `share` of full speed, rounded up so the work
/// is done by then.
#[inline]
fn stretch(work_ns: u64, share: Share) -> SimDuration {
    if share.is_full() {
        return SimDuration::from_ns(work_ns);
    }
    SimDuration::from_ns(div_ceil_u128(
        work_ns as u128 * share.den as u128,
        share.num as u128,
    ))
}

/// Records `t`'s progress since its job's last settlement, at `share`.
fn settle_thread(t: &mut HostThread, now: SimTime, share: Share) {
    let Some(j) = t.job.as_mut() else {
        return;
    };
    if now <= j.since {
        return;
    }
    let wall_ns = (now - j.since).as_ns();
    let progress_ns = if share.is_full() {
        t.busy.add(j.since, now);
        wall_ns
    } else {
        let Share {
            num,
            den,
            contended_num,
            stolen_num,
        } = share;
        t.busy.add_share(j.since, now, num, den);
        if contended_num > 0 {
            t.contended.add_share(j.since, now, contended_num, den);
        }
        if stolen_num > 0 {
            t.stolen.add_share(j.since, now, stolen_num, den);
        }
        (wall_ns as u128 * num as u128 / den as u128) as u64
    };
    j.remaining_ns = j.remaining_ns.saturating_sub(progress_ns);
    j.since = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_completion_times() {
        let mut t = CpuThread::new();
        let a = t.submit(SimTime::from_ns(0), SimDuration::from_ns(100), None);
        let b = t.submit(SimTime::from_ns(10), SimDuration::from_ns(50), None);
        let c = t.submit(SimTime::from_ns(500), SimDuration::from_ns(5), None);
        assert_eq!((a.as_ns(), b.as_ns(), c.as_ns()), (100, 150, 505));
    }

    #[test]
    fn throttles_to_baseline_when_credits_run_out() {
        // One credit = 60 s of one vCPU. 2 credits, baseline 20%: 120 s at full speed,
        // then 5x slower.
        let cfg = CpuCreditConfig {
            earned_per_hour: 0,
            max_balance: 2,
            initial_balance: 2,
            baseline_percent: 20,
        };
        let mut c = CpuCredits::new(cfg);
        let mut t = CpuThread::new();
        let end = t.submit(SimTime::ZERO, SimDuration::from_secs(121), Some(&mut c));
        assert_eq!(end, SimTime::from_secs(125));
        assert_eq!(c.depleted_at(), Some(SimTime::from_secs(120)));
        assert_eq!(c.balance(end), 0);
    }

    #[test]
    fn earns_at_the_configured_rate_up_to_the_maximum() {
        // t4g.small: 24 credits an hour, 576 at most.
        let cfg = CpuCreditConfig {
            earned_per_hour: 24,
            max_balance: 576,
            initial_balance: 0,
            baseline_percent: 20,
        };
        let mut c = CpuCredits::new(cfg);
        assert_eq!(c.balance(SimTime::from_secs(3600)), 24);
        assert_eq!(c.balance(SimTime::from_secs(3600 * 100)), 576);
    }

    /// Runs `jobs` (thread, start ns, work ns) on a host to completion, handling
    /// completions in time order as a scheduler would; returns each job's end.
    fn run_host(vcpus: u32, threads: u32, jobs: &[(u32, u64, u64)]) -> (HostCpu, Vec<u64>) {
        run_shared_host(vcpus, threads, None, &[], jobs)
    }

    /// As `run_host`, on a physical host of `cores` (when given) whose other tenants'
    /// demand changes at the given (time ns, milli-vCPUs), applied before a job
    /// starting at the same time.
    fn run_shared_host(
        vcpus: u32,
        threads: u32,
        cores: Option<u32>,
        demand: &[(u64, u64)],
        jobs: &[(u32, u64, u64)],
    ) -> (HostCpu, Vec<u64>) {
        let mut host = HostCpu::new(vcpus, threads, None);
        if let Some(cores) = cores {
            host.share_cores(cores);
        }
        let mut pending: Vec<(u64, u32, u16)> = Vec::new(); // (at, thread, epoch)
        let mut out = Vec::new();
        let mut ends = vec![0; jobs.len()];
        let mut job_of = vec![usize::MAX; threads as usize];
        let (mut next_job, mut next_demand) = (0, 0);
        loop {
            let next_start = jobs.get(next_job).map(|j| j.1);
            let next_change = demand.get(next_demand).map(|d| d.0);
            pending.sort();
            let next_done = pending.first().map(|p| p.0);
            let first = [next_change, next_start, next_done]
                .into_iter()
                .flatten()
                .min();
            let Some(first) = first else { break };
            out.clear();
            if next_change == Some(first) {
                let (at, milli) = demand[next_demand];
                next_demand += 1;
                host.set_co_tenant_demand(SimTime::from_ns(at), milli, &mut out);
            } else if next_start == Some(first) && next_done.is_none_or(|d| first < d) {
                let (thread, at, work) = jobs[next_job];
                job_of[thread as usize] = next_job;
                next_job += 1;
                let c = host.start(
                    SimTime::from_ns(at),
                    thread,
                    SimDuration::from_ns(work),
                    &mut out,
                );
                pending.push((c.at.as_ns(), c.thread, c.epoch));
            } else {
                let (at, thread, epoch) = pending.remove(0);
                if host.finish(SimTime::from_ns(at), thread, epoch, &mut out) {
                    ends[job_of[thread as usize]] = at;
                }
            }
            pending.extend(out.iter().map(|c| (c.at.as_ns(), c.thread, c.epoch)));
        }
        (host, ends)
    }

    #[test]
    fn a_co_tenant_on_the_only_core_halves_the_speed_and_the_wait_is_steal() {
        // 1 vCPU on a host of 1 core; another tenant runs 1 vCPU from 0 to 1 ms. A 1 ms
        // job from 0 runs at half speed until 1 ms (0.5 ms done), then alone: 1.5 ms.
        let (host, ends) = run_shared_host(
            1,
            1,
            Some(1),
            &[(0, 1_000), (1_000_000, 0)],
            &[(0, 0, 1_000_000)],
        );
        assert_eq!(ends, vec![1_500_000]);
        assert_eq!(host.thread(0).busy.total_ns(), 1_000_000);
        assert_eq!(host.thread(0).stolen.total_ns(), 500_000);
        assert_eq!(host.thread(0).contended.total_ns(), 0);
    }

    #[test]
    fn an_instance_with_more_vcpus_than_the_host_has_cores_shares_them_alone_too() {
        // 4 vCPUs on a host of 2 cores, no co-tenant demand: four 1 ms jobs run at half
        // speed, 2 ms each, the wait counted as steal.
        let jobs: Vec<_> = (0..4).map(|t| (t, 0, 1_000_000)).collect();
        let (host, ends) = run_shared_host(4, 4, Some(2), &[], &jobs);
        assert_eq!(ends, vec![2_000_000; 4]);
        let stolen: u64 = host.threads().iter().map(|t| t.stolen.total_ns()).sum();
        assert_eq!(stolen, 4_000_000);
    }

    #[test]
    fn co_tenants_within_the_spare_cores_take_nothing() {
        // 2 vCPUs on 4 cores, others at 2 vCPUs: everyone has a core.
        let (host, ends) = run_shared_host(
            2,
            2,
            Some(4),
            &[(0, 2_000)],
            &[(0, 0, 1_000), (1, 0, 1_000)],
        );
        assert_eq!(ends, vec![1_000, 1_000]);
        assert_eq!(
            host.thread(0).stolen.total_ns() + host.thread(1).stolen.total_ns(),
            0
        );
    }

    #[test]
    fn the_share_of_a_running_vcpu_follows_its_own_runnable_threads() {
        // 2 vCPUs on 2 cores, others at 1 vCPU. One job alone: 1 + 1 <= 2 cores, full
        // speed. Two jobs: 2 + 1 > 2, each at 2/3.
        let (_, ends) = run_shared_host(2, 2, Some(2), &[(0, 1_000)], &[(0, 0, 2_000_000)]);
        assert_eq!(ends, vec![2_000_000]);
        let (host, ends) = run_shared_host(
            2,
            2,
            Some(2),
            &[(0, 1_000)],
            &[(0, 0, 2_000_000), (1, 0, 2_000_000)],
        );
        assert_eq!(ends, vec![3_000_000, 3_000_000]);
        let stolen: u64 = host.threads().iter().map(|t| t.stolen.total_ns()).sum();
        assert_eq!(stolen, 2_000_000, "each waited a third of its 3 ms");
    }

    #[test]
    fn threads_within_the_vcpus_run_at_full_speed() {
        let (host, ends) = run_host(2, 2, &[(0, 0, 1_000), (1, 500, 1_000)]);
        assert_eq!(ends, vec![1_000, 1_500]);
        assert_eq!(host.thread(0).busy.total_ns(), 1_000);
        assert_eq!(host.thread(1).contended.total_ns(), 0);
    }

    #[test]
    fn oversubscribed_threads_share_the_vcpus() {
        // Four 1 ms jobs on 2 vCPUs, all at t = 0: each runs at half speed, 2 ms.
        let jobs: Vec<_> = (0..4).map(|t| (t, 0, 1_000_000)).collect();
        let (host, ends) = run_host(2, 4, &jobs);
        assert_eq!(ends, vec![2_000_000; 4]);
        let busy: u64 = host.threads().iter().map(|t| t.busy.total_ns()).sum();
        let contended: u64 = host.threads().iter().map(|t| t.contended.total_ns()).sum();
        assert_eq!(busy, 4_000_000, "the work done is the work asked");
        assert_eq!(contended, 4_000_000, "each waited half of its 2 ms");
    }

    #[test]
    fn a_job_speeds_up_when_another_ends() {
        // 1 vCPU. Thread 0: 1 ms from 0; thread 1: 3 ms from 0. Both at half speed
        // until thread 0's job is done at 2 ms (1 ms of work each); thread 1's 2 ms
        // left then run alone: done at 4 ms.
        let (_, ends) = run_host(1, 2, &[(0, 0, 1_000_000), (1, 0, 3_000_000)]);
        assert_eq!(ends, vec![2_000_000, 4_000_000]);
    }

    #[test]
    fn a_late_arrival_slows_the_running_job() {
        // 1 vCPU. Thread 0: 2 ms from 0, alone until 1 ms (1 ms left), then shares
        // with thread 1's 1 ms job: both have 1 ms left at half speed, both done at 3 ms.
        let (_, ends) = run_host(1, 2, &[(0, 0, 2_000_000), (1, 1_000_000, 1_000_000)]);
        assert_eq!(ends, vec![3_000_000, 3_000_000]);
    }

    proptest::proptest! {
        /// On a shared physical host, whatever the jobs and the co-tenants' demand: each
        /// thread's busy, contended and stolen time add up to the wall time of its jobs
        /// (to a nanosecond per settlement), so each vCPU's time is busy + steal + idle;
        /// no second holds more busy time than the vCPUs; the work done is the work
        /// asked.
        #[test]
        fn busy_steal_and_waiting_add_up_to_each_thread_s_time(
            vcpus in 1u32..4,
            cores in 1u32..4,
            demand in proptest::collection::vec((0u64..3_000_000_000, 0u64..4_000), 0..12),
            jobs in proptest::collection::vec((0u32..6, 0u64..3_000_000_000, 1u64..500_000_000), 1..30),
        ) {
            let mut demand = demand;
            demand.sort_by_key(|d| d.0);
            let mut jobs = jobs;
            jobs.sort_by_key(|j| j.1);
            // A thread's next job starts only after its last surely ended: 6 threads on
            // 1 vCPU at a quarter speed (4 vCPUs of others on 1 core) take 6 x 5 = 30x.
            let mut free_at = [0u64; 6];
            let mut ok = Vec::new();
            for (t, at, work) in jobs {
                if at >= free_at[t as usize] {
                    free_at[t as usize] = at + work * 30;
                    ok.push((t, at, work));
                }
            }
            let (host, ends) = run_shared_host(vcpus, 6, Some(cores), &demand, &ok);
            for t in 0..6u32 {
                let wall: u64 = ok.iter().zip(&ends).filter(|(j, _)| j.0 == t).map(|(j, e)| e - j.1).sum();
                let th = host.thread(t);
                let parts = th.busy.total_ns() + th.contended.total_ns() + th.stolen.total_ns();
                // Each settlement rounds each of three parts down by under 1 ns; a job
                // settles at most once per event (starts, ends and demand changes).
                let settlements = 3 * (2 * ok.len() as u64 + demand.len() as u64 + 1);
                proptest::prop_assert!(parts <= wall, "thread {t}: {parts} > {wall}");
                proptest::prop_assert!(wall - parts <= settlements, "thread {t}: {parts} vs {wall}");
            }
            let seconds = host.threads().iter().map(|t| t.busy.len()).max().unwrap_or(0);
            for s in 0..seconds {
                let busy: u64 = host.threads().iter().map(|t| t.busy.busy_ns(s)).sum();
                let stolen: u64 = host.threads().iter().map(|t| t.stolen.busy_ns(s)).sum();
                proptest::prop_assert!(busy + stolen <= vcpus as u64 * NS_PER_S + 64, "second {s}: {busy} + {stolen}");
            }
            let asked: u64 = ok.iter().map(|j| j.2).sum();
            let done: u64 = host.threads().iter().map(|t| t.busy.total_ns()).sum();
            proptest::prop_assert!(done <= asked && asked - done <= 64 * (ok.len() + demand.len()) as u64, "{done} vs {asked}");
        }

        /// Whatever the jobs, no second of a host's series holds more vCPU-time than
        /// its vCPUs, the vCPU-time consumed is the work asked, and each job takes at
        /// least its work.
        #[test]
        fn a_host_never_does_more_than_its_vcpus(
            vcpus in 1u32..4,
            jobs in proptest::collection::vec((0u32..6, 0u64..3_000_000_000, 1u64..900_000_000), 1..30),
        ) {
            // One job per thread at a time: each thread's jobs start after its last ends.
            let mut jobs = jobs;
            jobs.sort_by_key(|j| j.1);
            let mut free_at = [0u64; 6];
            let mut ok = Vec::new();
            for (t, at, work) in jobs {
                // Only a start after the thread's previous job surely ended (at most
                // 6 threads on 1 vCPU: 6x its work) is kept.
                if at >= free_at[t as usize] {
                    free_at[t as usize] = at + work * 6;
                    ok.push((t, at, work));
                }
            }
            let (host, ends) = run_host(vcpus, 6, &ok);
            let seconds = host.threads().iter().map(|t| t.busy.len()).max().unwrap_or(0);
            for s in 0..seconds {
                let busy: u64 = host.threads().iter().map(|t| t.busy.busy_ns(s)).sum();
                proptest::prop_assert!(busy <= vcpus as u64 * NS_PER_S, "second {s}: {busy}");
            }
            let asked: u64 = ok.iter().map(|j| j.2).sum();
            let done: u64 = host.threads().iter().map(|t| t.busy.total_ns()).sum();
            // Each share is rounded down, by under a nanosecond per settlement.
            proptest::prop_assert!(done <= asked && asked - done <= 64 * ok.len() as u64, "{done} vs {asked}");
            for (j, end) in ok.iter().zip(&ends) {
                proptest::prop_assert!(*end >= j.1 + j.2);
            }
        }
    }
}

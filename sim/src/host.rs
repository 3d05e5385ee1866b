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
//! [`CpuThread`] is a lone FIFO server whose completion times are known at submission,
//! for models that need no host.
//!
//! Invariants: in any interval, the vCPU-time a host's threads consume is at most its
//! vCPU count times the interval (per second of the recorded series, too); a thread's
//! jobs complete in the order started; the credit balance stays within [0, maximum].

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
}

impl HostCpu {
    /// A host of `vcpus` vCPUs (at least 1) running `threads` threads.
    pub fn new(vcpus: u32, threads: u32, credits: Option<CpuCredits>) -> HostCpu {
        HostCpu {
            vcpus: vcpus.max(1),
            runnable: 0,
            threads: vec![HostThread::default(); threads as usize],
            credits,
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
        let (vcpus, runnable) = (self.vcpus, self.runnable);
        for t in &mut self.threads {
            settle_thread(t, now, vcpus, runnable);
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
        if self.runnable >= self.vcpus {
            self.reshare(now, self.runnable + 1, out);
        } else {
            self.runnable += 1;
        }
        let t = &mut self.threads[thread as usize];
        t.jobs += 1;
        t.epoch = t.epoch.wrapping_add(1);
        let done_at = now + stretch(work.as_ns(), self.vcpus, self.runnable);
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
        let (vcpus, runnable) = (self.vcpus, self.runnable);
        let t = &mut self.threads[thread as usize];
        match t.job {
            Some(j) if t.epoch == epoch && j.done_at == now => {}
            _ => return false,
        }
        settle_thread(t, now, vcpus, runnable);
        t.job = None;
        if runnable > vcpus {
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
        let (vcpus, old) = (self.vcpus, self.runnable);
        for (i, t) in self.threads.iter_mut().enumerate() {
            if t.job.is_none() {
                continue;
            }
            settle_thread(t, now, vcpus, old);
            let j = t.job.as_mut().expect("checked");
            let done_at = now + stretch(j.remaining_ns, vcpus, runnable);
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

/// Wall time `work_ns` of work takes at a share of vcpus / runnable (full speed when
/// runnable <= vcpus), rounded up so the work is done by then.
#[inline]
fn stretch(work_ns: u64, vcpus: u32, runnable: u32) -> SimDuration {
    if runnable <= vcpus {
        return SimDuration::from_ns(work_ns);
    }
    SimDuration::from_ns(div_ceil_u128(
        work_ns as u128 * runnable as u128,
        vcpus as u128,
    ))
}

/// Records `t`'s progress since its job's last settlement, at a share of vcpus /
/// runnable.
fn settle_thread(t: &mut HostThread, now: SimTime, vcpus: u32, runnable: u32) {
    let Some(j) = t.job.as_mut() else {
        return;
    };
    if now <= j.since {
        return;
    }
    let wall_ns = (now - j.since).as_ns();
    let progress_ns = if runnable <= vcpus {
        t.busy.add(j.since, now);
        wall_ns
    } else {
        let (num, den) = (vcpus as u64, runnable as u64);
        t.busy.add_share(j.since, now, num, den);
        t.contended.add_share(j.since, now, den - num, den);
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
        let mut host = HostCpu::new(vcpus, threads, None);
        let mut pending: Vec<(u64, u32, u16)> = Vec::new(); // (at, thread, epoch)
        let mut out = Vec::new();
        let mut ends = vec![0; jobs.len()];
        let mut job_of = vec![usize::MAX; threads as usize];
        let mut next_job = 0;
        loop {
            let next_start = jobs.get(next_job).map(|j| j.1);
            pending.sort();
            let next_done = pending.first().map(|p| p.0);
            match (next_start, next_done) {
                (Some(s), d) if d.is_none_or(|d| s < d) => {
                    let (thread, at, work) = jobs[next_job];
                    job_of[thread as usize] = next_job;
                    next_job += 1;
                    out.clear();
                    let c = host.start(
                        SimTime::from_ns(at),
                        thread,
                        SimDuration::from_ns(work),
                        &mut out,
                    );
                    pending.push((c.at.as_ns(), c.thread, c.epoch));
                    pending.extend(out.iter().map(|c| (c.at.as_ns(), c.thread, c.epoch)));
                }
                (_, Some(_)) => {
                    let (at, thread, epoch) = pending.remove(0);
                    out.clear();
                    if host.finish(SimTime::from_ns(at), thread, epoch, &mut out) {
                        ends[job_of[thread as usize]] = at;
                    }
                    pending.extend(out.iter().map(|c| (c.at.as_ns(), c.thread, c.epoch)));
                }
                (None, None) => break,
                _ => unreachable!(),
            }
        }
        (host, ends)
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

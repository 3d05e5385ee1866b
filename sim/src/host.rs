//! Hosts' CPU: each engine thread ([`CpuThread`]) is a server with a FIFO run queue.
//! Because service times are known when work is submitted and the queue is FIFO, a
//! job's completion time is computed directly at submission (nothing can overtake it),
//! so CPU work costs no events of its own. The threads of a burstable host (t4g-style)
//! share a CPU credit balance ([`CpuCredits`], passed to each submission): earned
//! continuously at the baseline share of every vCPU, spent by running threads, capped
//! at a maximum; when it is empty, threads run at the baseline share of full speed.
//! Invariants: a thread's jobs complete in submission order; the credit balance stays
//! within [0, maximum].

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

/// One engine thread: a FIFO server.
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
}

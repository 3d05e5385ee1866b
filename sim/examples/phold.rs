//! PHOLD benchmark of the event kernel: 1,000 logical processes, each event schedules one
//! more at a uniformly random process after an exponential increment (mean 1 us). It runs
//! three populations (1, 16 and 1,000 events per process: 1k, 16k and 1M pending) through
//! the kernel's `Scheduler` and through a bare `BinaryHeap<Reverse<(u64, u64, u32)>>`
//! loop making the same random draws, checks that both reach the same final digest, and
//! prints one line per size:
//!
//! `pending=1000 kernel_events_per_s=... heap_events_per_s=... ratio=...`
//!
//! Run: `cargo run --release -p sim --example phold -- --events 20000000`
#![allow(clippy::disallowed_methods)] // a benchmark reads the wall clock, by design

use rand::RngCore;
use sim::rng::{exponential, RngStreams, SimRng};
use sim::{Model, RunLimit, Scheduler, SimDuration};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

const PROCESSES: u32 = 1_000;
const MEAN_INCREMENT_NS: f64 = 1_000.0;

/// One PHOLD event: "process `lp` runs".
#[derive(Clone, Copy)]
struct Hop {
    lp: u32,
}

/// The draws of one hop: the increment and the destination process. Both loops call
/// this, so they make the same draws in the same order.
#[inline]
fn draw(rng: &mut SimRng) -> (u64, u32) {
    let increment_ns = exponential(rng, MEAN_INCREMENT_NS) as u64;
    let dest = ((rng.next_u32() as u64 * PROCESSES as u64) >> 32) as u32;
    (increment_ns, dest)
}

/// Folds (time, process) into the digest both loops must agree on.
#[inline]
fn fold(digest: u64, time_ns: u64, lp: u32) -> u64 {
    (digest ^ time_ns ^ ((lp as u64) << 48))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(29)
}

struct Phold {
    rng: SimRng,
    digest: u64,
}

impl Model for Phold {
    type Event = Hop;
    #[inline]
    fn handle(&mut self, sched: &mut Scheduler<Hop>, hop: Hop) {
        self.digest = fold(self.digest, sched.now().as_ns(), hop.lp);
        let (increment_ns, dest) = draw(&mut self.rng);
        sched.schedule_in(SimDuration::from_ns(increment_ns), Hop { lp: dest });
    }
}

fn initial(per_lp: u32, rng: &mut SimRng) -> Vec<(u64, u32)> {
    let mut v = Vec::with_capacity((PROCESSES * per_lp) as usize);
    for lp in 0..PROCESSES {
        for _ in 0..per_lp {
            v.push((exponential(rng, MEAN_INCREMENT_NS) as u64, lp));
        }
    }
    v
}

fn run_kernel(per_lp: u32, events: u64, seed: u64) -> (f64, u64) {
    let streams = RngStreams::new(seed);
    let mut init_rng = streams.stream("phold-init", 0);
    let mut sched = Scheduler::with_capacity((PROCESSES * per_lp) as usize);
    for (t, lp) in initial(per_lp, &mut init_rng) {
        sched.schedule_at(sim::SimTime::from_ns(t), Hop { lp });
    }
    let mut model = Phold {
        rng: streams.stream("phold", 0),
        digest: 0,
    };
    let start = Instant::now();
    sched.run(&mut model, RunLimit::Events(events));
    let secs = start.elapsed().as_secs_f64();
    (events as f64 / secs, model.digest)
}

fn run_heap(per_lp: u32, events: u64, seed: u64) -> (f64, u64) {
    let streams = RngStreams::new(seed);
    let mut init_rng = streams.stream("phold-init", 0);
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> =
        BinaryHeap::with_capacity((PROCESSES * per_lp) as usize);
    let mut seq = 0u64;
    for (t, lp) in initial(per_lp, &mut init_rng) {
        heap.push(Reverse((t, seq, lp)));
        seq += 1;
    }
    let mut rng = streams.stream("phold", 0);
    let mut digest = 0u64;
    let start = Instant::now();
    for _ in 0..events {
        let Reverse((t, _, lp)) = heap.pop().expect("PHOLD never empties");
        digest = fold(digest, t, lp);
        let (increment_ns, dest) = draw(&mut rng);
        heap.push(Reverse((t + increment_ns, seq, dest)));
        seq += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    (events as f64 / secs, digest)
}

fn main() {
    let mut events: u64 = 20_000_000;
    let mut seed: u64 = 1;
    let mut only_pending: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = |args: &mut dyn Iterator<Item = String>| -> u64 {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("phold: {a} takes a whole number");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--events" => events = value(&mut args),
            "--seed" => seed = value(&mut args),
            "--pending" => only_pending = Some(value(&mut args)),
            _ => {
                eprintln!("usage: phold [--events N] [--seed N] [--pending 1000|16000|1000000]");
                std::process::exit(2)
            }
        }
    }
    println!("# PHOLD: {PROCESSES} processes, exponential increments (mean {MEAN_INCREMENT_NS} ns), seed {seed}");
    let mut failed = false;
    for per_lp in [1u32, 16, 1000] {
        let pending = PROCESSES as u64 * per_lp as u64;
        if only_pending.is_some_and(|p| p != pending) {
            continue;
        }
        // At least 20 events per pending event, so every initial event is replaced many times.
        let n = events.max(20 * pending);
        let (heap_rate, heap_digest) = run_heap(per_lp, n, seed);
        let (kernel_rate, kernel_digest) = run_kernel(per_lp, n, seed);
        println!(
            "pending={pending} kernel_events_per_s={kernel_rate:.0} heap_events_per_s={heap_rate:.0} ratio={:.3}",
            kernel_rate / heap_rate
        );
        if heap_digest != kernel_digest {
            eprintln!("phold: digests differ at pending={pending}: kernel {kernel_digest:#x}, heap {heap_digest:#x}");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}

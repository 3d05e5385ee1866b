//! The simulation kernel: integer time, a (time, sequence)-ordered event queue, seeded
//! RNG streams, shared NICs with burst credits, CPU threads with burstable credits, and
//! statistics. It knows nothing about caches, Redis or scenarios; every run is a pure
//! function of the model and its root seed.
//!
//! Determinism rules kept here: time is integer nanoseconds; events at equal times run
//! in insertion order; every component draws from its own seeded stream; nothing
//! iterated is a std `HashMap`; no wall clock, no OS entropy (clippy.toml enforces both).

pub mod hint;
pub mod host;
pub mod net;
pub mod queue;
pub mod rng;
pub mod scheduler;
pub mod stats;
pub mod time;

pub use queue::EventQueue;
pub use rng::{RngStreams, SimRng};
pub use scheduler::{Model, RunLimit, RunOutcome, Scheduler};
pub use time::{SimDuration, SimTime};

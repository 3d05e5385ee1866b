//! A sans-IO, Redis 7.0-compatible in-memory store: every call that depends on time
//! takes `now`, every call that needs randomness takes an RNG, so the same `Db` serves a
//! real TCP server on the real clock and a simulated node on the simulated clock.

pub mod blob;
pub mod reply;
pub mod resp;

pub use blob::{Arg, Blob};
pub use reply::Reply;

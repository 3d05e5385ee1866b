//! A sans-IO, Redis 7.0-compatible in-memory store: every call that depends on time
//! takes `now`, every call that needs randomness takes an RNG, so the same `Db` serves a
//! real TCP server on the real clock and a simulated node on the simulated clock.
//!
//! Entry points: [`Db::new`] with a [`Config`], [`Db::execute`] per command with a
//! [`Session`] per connection, [`Db::active_expire_cycle`] on the caller's schedule,
//! [`Db::prefill`] for large synthetic key ranges, [`Db::set_owned_slots`] for cluster
//! nodes. Ordering guarantees: the same sequence of calls with the same `now_ms` values
//! and the same RNG stream gives the same replies and the same [`Db::state_digest`];
//! nothing iterated depends on a per-process hash seed.

pub mod blob;
mod commands;
pub mod config;
mod db;
mod digest;
mod evict;
mod expire;
mod glob;
mod hashing;
mod keyspace;
pub mod longdouble;
pub mod mem;
pub mod numbers;
pub mod prefill;
pub mod reply;
pub mod resp;
pub mod slots;
mod value;

pub use blob::{Arg, Blob};
pub use config::{Config, EvictionPolicy, Session};
pub use db::{Db, ExpireCycleStats, Stats};
pub use glob::glob_match;
pub use prefill::{PrefillError, PrefillRange, ValueSize};
pub use reply::Reply;
pub use slots::{key_hash_slot, SlotState};

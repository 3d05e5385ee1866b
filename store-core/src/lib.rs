//! A sans-IO, Redis 7.0-compatible in-memory store: every call that depends on time
//! takes `now`, every call that needs randomness takes an RNG, so the same `Db` serves a
//! real TCP server on the real clock and a simulated node on the simulated clock.
//!
//! Entry points: [`Db::new`] with a [`Config`], [`Db::execute`] per command with a
//! [`Session`] per connection, [`Db::active_expire_cycle`] on the caller's schedule,
//! [`Db::prefill`] for large synthetic key ranges, [`Db::set_owned_slots`] for cluster
//! nodes; [`Db::set_propagation`] / [`Db::drain_propagated`], [`Db::set_replica`] and
//! [`Db::apply_replicated`] with [`repl::ReplicationLog`] for replication;
//! [`Db::keys_in_slot`], [`Db::migrate_out`], [`Db::migrate_in`] and
//! [`Db::migrate_finish`] ([`migrate`]) for resharding. Ordering
//! guarantees: the same sequence of calls with the same `now_ms` values
//! and the same RNG stream gives the same replies and the same [`Db::state_digest`];
//! nothing iterated depends on a per-process hash seed.
//!
//! ```
//! use rand::SeedableRng;
//! use store_core::{Arg, Config, Db, Reply, Session};
//!
//! let mut db = Db::new(Config::default());
//! let mut session = Session::new(1);
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let now_ms = 1_700_000_000_000;
//! // The simulator's request: a key in a reused buffer, a synthetic 25 KB value.
//! let key = b"memtier-42";
//! let set = [Arg::Bytes(b"SET"), Arg::Bytes(key), Arg::Synthetic { len: 25_000, seed: 9 }];
//! assert_eq!(db.execute(&mut session, &set, now_ms, &mut rng), Reply::Ok);
//! let reply = db.execute(&mut session, &[Arg::Bytes(b"GET"), Arg::Bytes(key)], now_ms, &mut rng);
//! assert!(matches!(reply, Reply::Bulk(ref v) if v.len() == 25_000)); // a hit
//! let miss = db.execute(&mut session, &[Arg::Bytes(b"GET"), Arg::Bytes(b"nope")], now_ms, &mut rng);
//! assert_eq!(miss, Reply::Null);
//! db.active_expire_cycle(now_ms + 100, &mut rng); // on the caller's schedule
//! assert_eq!(db.dbsize(), 1);
//! assert!(db.used_memory() > 25_000);
//! ```

pub mod blob;
mod commands;
pub mod config;
mod db;
mod digest;
mod dump;
mod evict;
mod expire;
mod glob;
mod hashing;
mod keyspace;
pub mod longdouble;
mod lzf;
pub mod mem;
pub mod migrate;
mod multi;
pub mod numbers;
pub mod prefill;
pub mod rdb;
pub mod repl;
pub mod reply;
pub mod resp;
pub mod shards;
mod slot_keys;
pub mod slots;
mod value;

pub use blob::{Arg, Blob, SyntheticFill};
pub use config::{Config, EvictionPolicy, Session};
pub use db::{Db, ExpireCycleStats, Stats};
pub use glob::glob_match;
pub use prefill::{PrefillError, PrefillRange, ValueSize};
pub use reply::Reply;
pub use shards::ShardedDb;
pub use slots::{key_hash_slot, NodeRef, SlotState};

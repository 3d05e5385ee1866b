//! Resolving replication: the scenario's `cluster.replication` settings with Redis 7.0's
//! defaults filled in and every value checked, and `clients.read_from` checked against
//! the replicas there are. Invariant: a `ReplicationConfig` exists only with replicas
//! (a world without them carries none, so it serializes as before they existed), and
//! its limits are the ones Redis enforces (a hard limit below the backlog is raised to
//! it, as `checkClientOutputBufferLimits` does).

use super::super::error::FieldError;
use super::super::spec::{ReadFrom, ReplicationSpec};
use serde::{Deserialize, Serialize};

/// Redis 7.0's defaults (redis.conf), and ours where Redis has none.
pub mod defaults {
    /// repl-backlog-size 1mb.
    pub const BACKLOG_BYTES: u64 = 1 << 20;
    /// client-output-buffer-limit replica 256mb 64mb 60.
    pub const OUTPUT_BUFFER_HARD_LIMIT_BYTES: u64 = 256 << 20;
    pub const OUTPUT_BUFFER_SOFT_LIMIT_BYTES: u64 = 64 << 20;
    pub const OUTPUT_BUFFER_SOFT_SECONDS: u64 = 60;
    /// repl-timeout 60.
    pub const TIMEOUT_S: u64 = 60;
    /// repl-diskless-sync-delay 5.
    pub const DISKLESS_SYNC_DELAY_S: u64 = 5;
    /// repl-ping-replica-period 10.
    pub const PING_REPLICA_PERIOD_S: u64 = 10;
    /// min-replicas-to-write 0 (off), min-replicas-max-lag 10.
    pub const MIN_REPLICAS_TO_WRITE: u32 = 0;
    pub const MIN_REPLICAS_MAX_LAG_S: u64 = 10;
    /// Linux's net.ipv4.tcp_wmem maximum (4 MiB), to which a busy socket's send buffer
    /// grows.
    pub const SOCKET_BUFFER_BYTES: u64 = 4 << 20;
    /// Ours: a replica parses and loads an RDB of small strings at a few hundred MB/s
    /// on one core (docs/REFERENCES.md, replication).
    pub const RDB_LOAD_MB_PER_S: u64 = 200;
    /// ElastiCache's limit of replicas per shard.
    pub const MAX_REPLICAS_PER_SHARD: u32 = 5;
}

/// What the world reads of replication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationConfig {
    pub backlog_bytes: u64,
    /// 0 means no limit. Already raised to `backlog_bytes` when set below it.
    pub output_buffer_hard_limit_bytes: u64,
    /// 0 means no limit.
    pub output_buffer_soft_limit_bytes: u64,
    pub output_buffer_soft_ns: u64,
    pub timeout_ns: u64,
    pub diskless_sync_delay_ns: u64,
    pub ping_replica_period_ns: u64,
    pub min_replicas_to_write: u32,
    pub min_replicas_max_lag_ns: u64,
    pub socket_buffer_bytes: u64,
    pub rdb_load_bytes_per_s: u64,
}

impl ReplicationConfig {
    /// What a world without replicas carries (it reads none of it).
    pub const NONE: ReplicationConfig = ReplicationConfig {
        backlog_bytes: 0,
        output_buffer_hard_limit_bytes: 0,
        output_buffer_soft_limit_bytes: 0,
        output_buffer_soft_ns: 0,
        timeout_ns: 0,
        diskless_sync_delay_ns: 0,
        ping_replica_period_ns: 0,
        min_replicas_to_write: 0,
        min_replicas_max_lag_ns: 0,
        socket_buffer_bytes: 0,
        rdb_load_bytes_per_s: 0,
    };
}

const NS_PER_S: u64 = 1_000_000_000;

fn fe(path: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(path, message)
}

/// `cluster.replication`, resolved for `replicas` replicas per shard (paths relative to
/// `cluster`).
pub(crate) fn resolve_replication(
    spec: Option<&ReplicationSpec>,
    replicas: u32,
) -> Result<Option<ReplicationConfig>, FieldError> {
    if replicas == 0 {
        if spec.is_some() {
            return Err(fe(
                "replication",
                "replication settings need replicas: set replicas_per_shard to 1 or more",
            ));
        }
        return Ok(None);
    }
    let s = spec.copied().unwrap_or_default();
    let size = |v: Option<u64>, d: u64, path: &str, min: u64| -> Result<u64, FieldError> {
        let v = v.unwrap_or(d);
        if v != 0 && v < min {
            return Err(fe(
                &format!("replication.{path}"),
                format!("expected 0 (no limit) or at least {min} bytes, got {v}"),
            ));
        }
        if v > 1 << 40 {
            return Err(fe(
                &format!("replication.{path}"),
                format!("expected at most 1 TiB, got {v}"),
            ));
        }
        Ok(v)
    };
    let seconds = |v: Option<u64>, d: u64, path: &str, min: u64| -> Result<u64, FieldError> {
        let v = v.unwrap_or(d);
        if v < min || v > 86_400 {
            return Err(fe(
                &format!("replication.{path}"),
                format!("expected {min} to 86400 seconds, got {v}"),
            ));
        }
        Ok(v * NS_PER_S)
    };
    // Redis refuses a backlog below 16 KiB (CONFIG SET repl-backlog-size clamps it).
    let backlog_bytes = s.backlog_bytes.unwrap_or(defaults::BACKLOG_BYTES);
    if !(16 * 1024..=1 << 40).contains(&backlog_bytes) {
        return Err(fe(
            "replication.backlog_bytes",
            format!("expected 16384 bytes (Redis's minimum) to 1 TiB, got {backlog_bytes}"),
        ));
    }
    let mut hard = size(
        s.output_buffer_hard_limit_bytes,
        defaults::OUTPUT_BUFFER_HARD_LIMIT_BYTES,
        "output_buffer_hard_limit_bytes",
        1,
    )?;
    if hard != 0 && hard < backlog_bytes {
        hard = backlog_bytes;
    }
    let soft = size(
        s.output_buffer_soft_limit_bytes,
        defaults::OUTPUT_BUFFER_SOFT_LIMIT_BYTES,
        "output_buffer_soft_limit_bytes",
        1,
    )?;
    let socket = s
        .socket_buffer_bytes
        .unwrap_or(defaults::SOCKET_BUFFER_BYTES);
    if !(4096..=1 << 30).contains(&socket) {
        return Err(fe(
            "replication.socket_buffer_bytes",
            format!("expected 4096 bytes to 1 GiB, got {socket}"),
        ));
    }
    let load = s.rdb_load_mb_per_s.unwrap_or(defaults::RDB_LOAD_MB_PER_S);
    if !(1..=100_000).contains(&load) {
        return Err(fe(
            "replication.rdb_load_mb_per_s",
            format!("expected 1 to 100000 MB/s, got {load}"),
        ));
    }
    let min_to_write = s
        .min_replicas_to_write
        .unwrap_or(defaults::MIN_REPLICAS_TO_WRITE);
    if min_to_write > replicas {
        return Err(fe(
            "replication.min_replicas_to_write",
            format!(
                "expected at most replicas_per_shard ({replicas}), got {min_to_write}: \
                 every write would be refused"
            ),
        ));
    }
    Ok(Some(ReplicationConfig {
        backlog_bytes,
        output_buffer_hard_limit_bytes: hard,
        output_buffer_soft_limit_bytes: soft,
        output_buffer_soft_ns: seconds(
            s.output_buffer_soft_seconds,
            defaults::OUTPUT_BUFFER_SOFT_SECONDS,
            "output_buffer_soft_seconds",
            0,
        )?,
        timeout_ns: seconds(s.timeout_s, defaults::TIMEOUT_S, "timeout_s", 1)?,
        diskless_sync_delay_ns: seconds(
            s.diskless_sync_delay_s,
            defaults::DISKLESS_SYNC_DELAY_S,
            "diskless_sync_delay_s",
            0,
        )?,
        ping_replica_period_ns: seconds(
            s.ping_replica_period_s,
            defaults::PING_REPLICA_PERIOD_S,
            "ping_replica_period_s",
            1,
        )?,
        min_replicas_to_write: min_to_write,
        min_replicas_max_lag_ns: seconds(
            s.min_replicas_max_lag_s,
            defaults::MIN_REPLICAS_MAX_LAG_S,
            "min_replicas_max_lag_s",
            1,
        )?,
        socket_buffer_bytes: socket,
        rdb_load_bytes_per_s: load * 1_000_000,
    }))
}

/// `clients.read_from`, which needs replicas unless it is `primary`.
pub(crate) fn check_read_from(read_from: ReadFrom, replicas: u32) -> Result<(), FieldError> {
    if read_from != ReadFrom::Primary && replicas == 0 {
        return Err(fe(
            "clients.read_from",
            "reads from replicas need replicas: set cluster.replicas_per_shard to 1 or more",
        ));
    }
    Ok(())
}

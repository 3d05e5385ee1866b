//! The settings the store honours, with Redis 7.0's defaults, and the session state each
//! connection carries. Invariant: `Config::default()` behaves like an unconfigured
//! redis-server 7.0 (no maxmemory, noeviction, 5 samples, standalone).

/// maxmemory-policy. Each policy's victim choice follows Redis's sampled approximation
/// (evict.c): LRU/LFU/TTL fill a 16-entry eviction pool from `maxmemory_samples` random
/// keys per round; the random policies take one random key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EvictionPolicy {
    #[default]
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl EvictionPolicy {
    /// The name CONFIG GET answers and CONFIG SET accepts.
    pub fn name(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllKeysLru => "allkeys-lru",
            EvictionPolicy::AllKeysLfu => "allkeys-lfu",
            EvictionPolicy::AllKeysRandom => "allkeys-random",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<EvictionPolicy> {
        let all = [
            EvictionPolicy::NoEviction,
            EvictionPolicy::AllKeysLru,
            EvictionPolicy::AllKeysLfu,
            EvictionPolicy::AllKeysRandom,
            EvictionPolicy::VolatileLru,
            EvictionPolicy::VolatileLfu,
            EvictionPolicy::VolatileRandom,
            EvictionPolicy::VolatileTtl,
        ];
        all.into_iter()
            .find(|p| p.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// LFU policies keep a log counter in the `lru` field instead of a clock.
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu
        )
    }

    /// Policies under which Redis stops sharing integer objects (each key needs its own
    /// access metadata): MAXMEMORY_FLAG_NO_SHARED_INTEGERS.
    pub fn needs_access_metadata(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLru
                | EvictionPolicy::AllKeysLfu
                | EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
        )
    }

    /// Whether victims are drawn only from keys with an expiry.
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }
}

/// Store settings (CONFIG GET/SET changes the first three at run time).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// maxmemory in bytes; 0 means no limit.
    pub maxmemory_bytes: u64,
    pub maxmemory_policy: EvictionPolicy,
    /// maxmemory-samples: keys sampled per eviction round.
    pub maxmemory_samples: u32,
    /// Answer as a cluster node (MOVED/ASK, CROSSSLOT, CLUSTER KEYSLOT on a cluster).
    pub cluster_enabled: bool,
    /// lfu-log-factor.
    pub lfu_log_factor: u32,
    /// lfu-decay-time, in minutes.
    pub lfu_decay_time_min: u32,
    /// Keys one active expire cycle may examine at most. Redis bounds a slow cycle by
    /// time (25% of a 100 ms tick); a sans-IO store has no time to measure, so it bounds
    /// work instead. 0 means no bound.
    pub active_expire_keys_budget: u32,
    /// `used_memory` of the empty server, which the dataset's bytes add to.
    pub baseline_used_memory_bytes: u64,
    /// This node's "host:port" as CLUSTER SLOTS announces it.
    pub cluster_node_addr: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            maxmemory_bytes: 0,
            maxmemory_policy: EvictionPolicy::NoEviction,
            maxmemory_samples: 5,
            cluster_enabled: false,
            lfu_log_factor: 10,
            lfu_decay_time_min: 1,
            active_expire_keys_budget: 20_000,
            baseline_used_memory_bytes: crate::mem::BASELINE_USED_MEMORY_BYTES,
            cluster_node_addr: "127.0.0.1:6379".to_string(),
        }
    }
}

/// Per-connection state: protocol version (HELLO switches it), the name set by CLIENT
/// SETNAME or HELLO, a pending ASKING, and the MULTI queue. (WATCHed keys live in the
/// `Db`, by client id, since other sessions' writes must reach them: call
/// `Db::forget_session` when a connection closes.) The selected database is always 0 (the store
/// has one). CLIENT SETINFO (library name/version) arrived in Redis 7.2, so a 7.0 server
/// rejects it and there is nothing to keep for it.
#[derive(Clone, Debug)]
pub struct Session {
    pub(crate) protocol: u8,
    pub(crate) client_id: u64,
    pub(crate) asking: bool,
    /// The hash slot of the next command's key, when the caller knows it.
    pub(crate) slot_hint: Option<u16>,
    /// What few sessions use (a name, a MULTI queue), behind one pointer so that a
    /// session stays small: the simulator keeps one in each connection's cache line.
    pub(crate) extra: Option<Box<SessionExtra>>,
}

/// The rarely used part of a session.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionExtra {
    pub(crate) name: Option<Box<[u8]>>,
    /// Inside MULTI: the queued commands.
    pub(crate) multi: Option<crate::multi::MultiState>,
}

impl Session {
    pub fn new(client_id: u64) -> Session {
        Session {
            protocol: 2,
            client_id,
            asking: false,
            slot_hint: None,
            extra: None,
        }
    }

    /// Tells the store the hash slot of the next command's key, which a caller that
    /// routed the command by it has computed already (a simulated cluster client): a
    /// node checking a single-key command's slot then uses it instead of hashing the key
    /// again. It must be the key's slot (debug builds check); it holds for the next
    /// command only, whatever that command is.
    pub fn hint_slot(&mut self, slot: u16) {
        self.slot_hint = Some(slot);
    }

    /// 2 or 3: how the caller must encode this session's replies.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Whether the session is inside MULTI (its commands are queued).
    pub fn in_multi(&self) -> bool {
        self.multi().is_some()
    }

    pub(crate) fn multi(&self) -> Option<&crate::multi::MultiState> {
        self.extra.as_ref()?.multi.as_ref()
    }

    pub(crate) fn multi_mut(&mut self) -> Option<&mut crate::multi::MultiState> {
        self.extra.as_mut()?.multi.as_mut()
    }

    /// Enters MULTI with an empty queue.
    pub(crate) fn begin_multi(&mut self) {
        self.extra.get_or_insert_with(Box::default).multi = Some(Default::default());
    }

    /// Leaves MULTI, returning the queue.
    pub(crate) fn take_multi(&mut self) -> Option<crate::multi::MultiState> {
        self.extra.as_mut()?.multi.take()
    }

    pub(crate) fn set_name(&mut self, name: Option<Box<[u8]>>) {
        if name.is_none() && self.extra.is_none() {
            return;
        }
        self.extra.get_or_insert_with(Box::default).name = name;
    }

    /// The name set by CLIENT SETNAME or HELLO SETNAME.
    pub fn name(&self) -> Option<&[u8]> {
        self.extra.as_ref()?.name.as_deref()
    }
}

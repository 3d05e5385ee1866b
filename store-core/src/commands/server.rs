//! Connection and server commands (server.c, networking.c, config.c, cluster.c): the
//! handshake commands real clients send first, CONFIG for the settings the store
//! honours, INFO, COMMAND and CLUSTER KEYSLOT. Invariant: replies carry Redis 7.0.15's
//! identity (version, mode) and only settings the store actually applies can be SET.

use super::{
    arity_error, bytes, find_command, flags, is, text, CommandSpec, Ctx, COMMANDS, NOT_INTEGER,
};
use crate::blob::Arg;
use crate::config::EvictionPolicy;
use crate::glob::glob_match;
use crate::reply::Reply;
use crate::slots::{key_hash_slot, SlotState, SlotTable, SLOT_COUNT};

/// The Redis version this store answers as.
pub const REDIS_VERSION: &str = "7.0.15";

/// # Format
/// `PING [message]`
pub(crate) fn ping(_ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    match argv.len() {
        1 => Reply::simple("PONG"),
        2 => Reply::Bulk(argv[1].to_blob()),
        _ => arity_error("ping"),
    }
}

/// # Format
/// `ECHO message`
pub(crate) fn echo(_ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    Reply::Bulk(argv[1].to_blob())
}

/// # Format
/// `SELECT index`
///
/// The store has one database: SELECT 0 succeeds, other indices answer an error.
pub(crate) fn select(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let index = match super::int_arg(&argv[1]) {
        Ok(i) if i32::try_from(i).is_ok() => i,
        _ => return Reply::error(NOT_INTEGER),
    };
    if ctx.db.config.cluster_enabled && index != 0 {
        return Reply::error("ERR SELECT is not allowed in cluster mode");
    }
    if index != 0 {
        return Reply::error("ERR DB index is out of range");
    }
    Reply::Ok
}

fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";

/// # Format
/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
pub(crate) fn hello(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let mut next = 1;
    let mut version = None;
    if argv.len() >= 2 {
        match crate::numbers::parse_i64(&bytes(&argv[1])) {
            Some(v) => version = Some(v),
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
        next = 2;
        if !matches!(version, Some(2 | 3)) {
            return Reply::error("NOPROTO unsupported protocol version");
        }
    }
    let mut name = None;
    let mut j = next;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(&argv[j], "auth") && more >= 2 {
            // The default user has no password: any password authenticates it.
            if !bytes(&argv[j + 1]).as_ref().eq(b"default") {
                return Reply::error(
                    "WRONGPASS invalid username-password pair or user is disabled.",
                );
            }
            j += 2;
        } else if is(&argv[j], "setname") && more >= 1 {
            let n = bytes(&argv[j + 1]).into_owned();
            if !valid_client_name(&n) {
                return Reply::error(BAD_CLIENT_NAME);
            }
            name = Some(n);
            j += 1;
        } else {
            return Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                text(&argv[j])
            ));
        }
        j += 1;
    }
    if let Some(n) = name {
        ctx.session
            .set_name(if n.is_empty() { None } else { Some(n.into()) });
    }
    if let Some(v) = version {
        ctx.session.protocol = v as u8;
    }
    let mode = if ctx.db.config.cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    Reply::Map(vec![
        (Reply::bulk(b"server"), Reply::bulk(b"redis")),
        (
            Reply::bulk(b"version"),
            Reply::bulk(REDIS_VERSION.as_bytes()),
        ),
        (
            Reply::bulk(b"proto"),
            Reply::Integer(i64::from(ctx.session.protocol)),
        ),
        (
            Reply::bulk(b"id"),
            Reply::Integer(ctx.session.client_id as i64),
        ),
        (Reply::bulk(b"mode"), Reply::bulk(mode.as_bytes())),
        (
            Reply::bulk(b"role"),
            Reply::bulk(if ctx.db.replica {
                b"replica"
            } else {
                b"master"
            }),
        ),
        (Reply::bulk(b"modules"), Reply::Array(Vec::new())),
    ])
}

fn unknown_subcommand(arg: &Arg<'_>, container: &str) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        text(arg),
        container.to_ascii_uppercase()
    ))
}

/// # Format
/// `CLIENT ID | GETNAME | SETNAME connection-name`
pub(crate) fn client(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let sub = &argv[1];
    if is(sub, "id") {
        if argv.len() != 2 {
            return arity_error("client|id");
        }
        Reply::Integer(ctx.session.client_id as i64)
    } else if is(sub, "getname") {
        if argv.len() != 2 {
            return arity_error("client|getname");
        }
        ctx.session.name().map_or(Reply::Null, Reply::bulk)
    } else if is(sub, "setname") {
        if argv.len() != 3 {
            return arity_error("client|setname");
        }
        let name = bytes(&argv[2]);
        if !valid_client_name(&name) {
            return Reply::error(BAD_CLIENT_NAME);
        }
        ctx.session.set_name(if name.is_empty() {
            None
        } else {
            Some(name.as_ref().into())
        });
        Reply::Ok
    } else {
        // CLIENT SETINFO arrived in 7.2; 7.0 answers it (and anything else) like this.
        unknown_subcommand(sub, "client")
    }
}

fn flag_names(spec: &CommandSpec) -> Vec<Reply> {
    let table = [
        (flags::WRITE, "write"),
        (flags::READONLY, "readonly"),
        (flags::DENYOOM, "denyoom"),
        (flags::ADMIN, "admin"),
        (flags::NOSCRIPT, "noscript"),
        (flags::LOADING, "loading"),
        (flags::STALE, "stale"),
        (flags::FAST, "fast"),
    ];
    table
        .iter()
        .filter(|(bit, _)| spec.flags & bit != 0)
        .map(|(_, name)| Reply::simple(*name))
        .collect()
}

fn command_info(spec: &CommandSpec) -> Reply {
    let mut categories = Vec::new();
    if spec.flags & flags::WRITE != 0 {
        categories.push(Reply::simple("@write"));
    }
    if spec.flags & flags::READONLY != 0 {
        categories.push(Reply::simple("@read"));
    }
    // ACL categories in Redis's bit order: the data-type ones before @fast/@slow,
    // @connection and @transaction after.
    let group = match spec.group {
        "generic" => "keyspace",
        "transactions" => "transaction",
        other => other,
    };
    let group_after_speed = matches!(group, "connection" | "transaction");
    if !group_after_speed {
        categories.push(Reply::simple(format!("@{group}")));
    }
    if spec.flags & flags::FAST != 0 {
        categories.push(Reply::simple("@fast"));
    } else {
        categories.push(Reply::simple("@slow"));
    }
    if group_after_speed {
        categories.push(Reply::simple(format!("@{group}")));
    }
    Reply::Array(vec![
        Reply::bulk(spec.name.as_bytes()),
        Reply::Integer(i64::from(spec.arity)),
        Reply::Set(flag_names(spec)),
        Reply::Integer(i64::from(spec.first_key)),
        Reply::Integer(i64::from(spec.last_key)),
        Reply::Integer(i64::from(spec.key_step)),
        Reply::Set(categories),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

fn command_docs(spec: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (
            Reply::bulk(b"summary"),
            Reply::bulk(spec.summary.as_bytes()),
        ),
        (Reply::bulk(b"since"), Reply::bulk(spec.since.as_bytes())),
        (Reply::bulk(b"group"), Reply::bulk(spec.group.as_bytes())),
    ])
}

/// # Format
/// `COMMAND [COUNT | LIST | INFO [command-name ...] | DOCS [command-name ...]]`
pub(crate) fn command(_ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    if argv.len() == 1 {
        return Reply::Array(COMMANDS.iter().map(command_info).collect());
    }
    let sub = &argv[1];
    if is(sub, "count") {
        if argv.len() != 2 {
            return arity_error("command|count");
        }
        Reply::Integer(COMMANDS.len() as i64)
    } else if is(sub, "list") {
        Reply::Array(
            COMMANDS
                .iter()
                .map(|c| Reply::bulk(c.name.as_bytes()))
                .collect(),
        )
    } else if is(sub, "info") {
        if argv.len() == 2 {
            return Reply::Array(COMMANDS.iter().map(command_info).collect());
        }
        Reply::Array(
            argv[2..]
                .iter()
                .map(|a| find_command(&bytes(a)).map_or(Reply::NullArray, command_info))
                .collect(),
        )
    } else if is(sub, "docs") {
        let specs: Vec<&CommandSpec> = if argv.len() == 2 {
            COMMANDS.iter().collect()
        } else {
            argv[2..]
                .iter()
                .filter_map(|a| find_command(&bytes(a)))
                .collect()
        };
        Reply::Map(
            specs
                .into_iter()
                .map(|s| (Reply::bulk(s.name.as_bytes()), command_docs(s)))
                .collect(),
        )
    } else {
        unknown_subcommand(sub, "command")
    }
}

/// The settings CONFIG GET lists, with their current values.
fn config_values(ctx: &Ctx<'_>) -> Vec<(&'static str, String)> {
    let c = &ctx.db.config;
    vec![
        ("maxmemory", c.maxmemory_bytes.to_string()),
        ("maxmemory-policy", c.maxmemory_policy.name().to_string()),
        ("maxmemory-samples", c.maxmemory_samples.to_string()),
        ("lfu-log-factor", c.lfu_log_factor.to_string()),
        ("lfu-decay-time", c.lfu_decay_time_min.to_string()),
        (
            "cluster-enabled",
            if c.cluster_enabled { "yes" } else { "no" }.to_string(),
        ),
        ("maxmemory-clients", "0".to_string()),
        ("maxmemory-eviction-tenacity", "10".to_string()),
        ("save", String::new()),
        ("appendonly", "no".to_string()),
        ("databases", "1".to_string()),
    ]
}

/// Redis's memtoull: a byte count with an optional unit (k, kb, m, mb, g, gb).
fn parse_memory(text: &[u8]) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let units: [(&[u8], u64); 7] = [
        (b"kb", 1024),
        (b"mb", 1024 * 1024),
        (b"gb", 1024 * 1024 * 1024),
        (b"k", 1000),
        (b"m", 1_000_000),
        (b"g", 1_000_000_000),
        (b"b", 1),
    ];
    let (digits, multiplier) = units
        .iter()
        .find_map(|(suffix, mul)| lower.strip_suffix(*suffix).map(|d| (d, *mul)))
        .unwrap_or((&lower[..], 1));
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse::<u64>()
        .ok()?
        .checked_mul(multiplier)
}

fn config_set_one(ctx: &mut Ctx<'_>, name: &[u8], value: &[u8]) -> Result<(), Reply> {
    let lname = String::from_utf8_lossy(name).to_ascii_lowercase();
    let failed = |why: &str| {
        Reply::error(format!(
            "ERR CONFIG SET failed (possibly related to argument '{lname}') - {why}"
        ))
    };
    let parse_int = |v: &[u8], min: i64, max: i64| -> Result<i64, Reply> {
        let n = crate::numbers::parse_i64(v)
            .ok_or_else(|| failed("argument couldn't be parsed into an integer"))?;
        if n < min || n > max {
            return Err(failed(&format!(
                "argument must be between {min} and {max} inclusive"
            )));
        }
        Ok(n)
    };
    match lname.as_str() {
        "maxmemory" => {
            ctx.db.config.maxmemory_bytes =
                parse_memory(value).ok_or_else(|| failed("argument must be a memory value"))?;
        }
        "maxmemory-policy" => {
            ctx.db.config.maxmemory_policy = EvictionPolicy::from_name(value).ok_or_else(|| {
                failed("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
            })?;
        }
        "maxmemory-samples" => {
            ctx.db.config.maxmemory_samples = parse_int(value, 1, i64::from(i32::MAX))? as u32;
        }
        "lfu-log-factor" => {
            ctx.db.config.lfu_log_factor = parse_int(value, 0, i64::from(i32::MAX))? as u32;
        }
        "lfu-decay-time" => {
            ctx.db.config.lfu_decay_time_min = parse_int(value, 0, i64::from(i32::MAX))? as u32;
        }
        _ => {
            return Err(Reply::error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(name)
            )))
        }
    }
    Ok(())
}

/// # Format
/// `CONFIG GET parameter [parameter ...]` | `CONFIG SET parameter value [parameter value ...]` | `CONFIG RESETSTAT`
pub(crate) fn config(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    let sub = &argv[1];
    if is(sub, "get") {
        if argv.len() < 3 {
            return arity_error("config|get");
        }
        let values = config_values(ctx);
        let mut out: Vec<(Reply, Reply)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for pattern in &argv[2..] {
            let pattern = bytes(pattern);
            let lower = pattern.to_ascii_lowercase();
            let is_glob = pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
            for (name, value) in &values {
                let matched = if is_glob {
                    glob_match(&lower, name.as_bytes())
                } else {
                    lower == name.as_bytes()
                };
                if matched && !seen.contains(name) {
                    seen.push(name);
                    // An exact name is echoed as the client spelled it, as configGetCommand does.
                    let shown: &[u8] = if is_glob { name.as_bytes() } else { &pattern };
                    out.push((Reply::bulk(shown), Reply::bulk(value.as_bytes())));
                }
            }
        }
        Reply::Map(out)
    } else if is(sub, "set") {
        if argv.len() < 4 || argv.len() % 2 == 1 {
            return arity_error("config|set");
        }
        let names: Vec<Vec<u8>> = argv[2..]
            .chunks(2)
            .map(|p| bytes(&p[0]).to_ascii_lowercase())
            .collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Reply::error(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - duplicate parameter",
                    text(&argv[2 + 2 * i])
                ));
            }
        }
        // All or nothing, as Redis applies a multi-parameter SET.
        let saved = ctx.db.config.clone();
        for pair in argv[2..].chunks(2) {
            if let Err(e) = config_set_one(ctx, &bytes(&pair[0]), &bytes(&pair[1])) {
                ctx.db.config = saved;
                return e;
            }
        }
        // updateMaxmemory starts an eviction timer, which runs right after this command
        // (inside a transaction, after the EXEC): its DELs precede the next command.
        if names.iter().any(|n| n == b"maxmemory") && ctx.db.config.maxmemory_bytes > 0 {
            ctx.db.evict_after_command = true;
        }
        Reply::Ok
    } else if is(sub, "resetstat") {
        if argv.len() != 2 {
            return arity_error("config|resetstat");
        }
        ctx.db.stats = Default::default();
        Reply::Ok
    } else {
        unknown_subcommand(sub, "config")
    }
}

/// Redis's bytesToHuman.
fn bytes_to_human(n: u64) -> String {
    let n_f = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if n < 1024 * 1024 {
        format!("{:.2}K", n_f / 1024.0)
    } else if n < 1024 * 1024 * 1024 {
        format!("{:.2}M", n_f / (1024.0 * 1024.0))
    } else if n < 1024u64.pow(4) {
        format!("{:.2}G", n_f / (1024.0 * 1024.0 * 1024.0))
    } else {
        format!("{:.2}T", n_f / 1024f64.powi(4))
    }
}

/// # Format
/// `INFO [section [section ...]]`
pub(crate) fn info(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    info_reply(ctx.db, &InfoFigures::of(ctx.db), argv)
}

/// The figures INFO reports of a keyspace: one Db's, or the sum of a thread-per-core
/// store's shards.
#[derive(Clone, Debug, Default)]
pub(crate) struct InfoFigures {
    pub used_memory: u64,
    pub dataset_used_memory: u64,
    pub stats: crate::db::Stats,
    pub keys: u64,
    pub expires: u64,
    /// Sum over the parts of avg_ttl x expires, for a mean weighted by expiring keys.
    pub ttl_weighted: u128,
}

impl InfoFigures {
    pub(crate) fn of(db: &crate::Db) -> InfoFigures {
        let expires = db.keys_with_expiry();
        InfoFigures {
            used_memory: db.used_memory(),
            dataset_used_memory: db.dataset_used_memory(),
            stats: db.stats.clone(),
            keys: db.dbsize(),
            expires,
            ttl_weighted: u128::from(db.avg_ttl_ms) * u128::from(expires),
        }
    }

    pub(crate) fn add(&mut self, o: &InfoFigures) {
        self.used_memory += o.used_memory;
        self.dataset_used_memory += o.dataset_used_memory;
        self.stats.add(&o.stats);
        self.keys += o.keys;
        self.expires += o.expires;
        self.ttl_weighted += o.ttl_weighted;
    }

    fn avg_ttl_ms(&self) -> u64 {
        if self.expires == 0 {
            0
        } else {
            (self.ttl_weighted / u128::from(self.expires)) as u64
        }
    }
}

/// INFO's reply: `db`'s settings and clients, `figures`' numbers.
pub(crate) fn info_reply(db: &crate::Db, figures: &InfoFigures, argv: &[Arg<'_>]) -> Reply {
    let all = ["server", "clients", "memory", "stats", "keyspace"];
    let wanted: Vec<String> = if argv.len() == 1 {
        all.iter().map(|s| s.to_string()).collect()
    } else {
        argv[1..]
            .iter()
            .map(|a| text(a).to_ascii_lowercase())
            .collect()
    };
    let everything = wanted
        .iter()
        .any(|w| matches!(w.as_str(), "all" | "everything" | "default"));
    let include = |section: &str| everything || wanted.iter().any(|w| w == section);
    let mut sections: Vec<String> = Vec::new();
    if include("server") {
        let mode = if db.config.cluster_enabled {
            "cluster"
        } else {
            "standalone"
        };
        sections.push(format!(
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_mode:{mode}\r\narch_bits:64\r\nmultiplexing_api:none\r\nprocess_id:0\r\nrun_id:0000000000000000000000000000000000000000\r\n"
        ));
    }
    if include("clients") {
        sections.push(format!(
            "# Clients\r\nconnected_clients:{}\r\nblocked_clients:0\r\n",
            db.connected_clients
        ));
    }
    if include("memory") {
        let used = figures.used_memory;
        let max = db.config.maxmemory_bytes;
        sections.push(format!(
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_dataset:{}\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_allocator:jemalloc-5.3.0\r\n",
            bytes_to_human(used),
            figures.dataset_used_memory,
            bytes_to_human(max),
            db.config.maxmemory_policy.name()
        ));
    }
    if include("stats") {
        let s = &figures.stats;
        sections.push(format!(
            "# Stats\r\ntotal_commands_processed:{}\r\nexpired_keys:{}\r\nexpired_stale_perc:{:.2}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\n",
            s.total_commands_processed,
            s.expired_keys,
            s.expired_stale_perc_x100 as f64 / 100.0,
            s.evicted_keys,
            s.keyspace_hits,
            s.keyspace_misses
        ));
    }
    if include("keyspace") {
        let mut section = "# Keyspace\r\n".to_string();
        let keys = figures.keys;
        if keys > 0 {
            section.push_str(&format!(
                "db0:keys={keys},expires={},avg_ttl={}\r\n",
                figures.expires,
                figures.avg_ttl_ms()
            ));
        }
        sections.push(section);
    }
    let text = sections.join("\r\n");
    Reply::Verbatim {
        format: *b"txt",
        text: text.into_bytes().into(),
    }
}

const CLUSTER_DISABLED: &str = "ERR This instance has cluster support disabled";

/// A deterministic 40-hex-digit node id.
fn node_id(addr: &str) -> String {
    let h = crate::hashing::hash_bytes(addr.as_bytes());
    format!(
        "{:016x}{:016x}{:08x}",
        h,
        crate::hashing::mix64(h),
        (h >> 32) as u32
    )
}

/// The address serving a slot in this node's view, if any.
fn slot_owner<'a>(table: &'a SlotTable, slot: u16, self_addr: &'a str) -> Option<&'a str> {
    table.owner_addr(slot, self_addr)
}

/// Contiguous runs of slots served by the same address: (first, last, address).
fn slot_runs(table: &SlotTable, self_addr: &str) -> Vec<(usize, usize, String)> {
    let mut runs = Vec::new();
    let mut slot = 0;
    while slot < SLOT_COUNT {
        let owner = slot_owner(table, slot as u16, self_addr);
        let start = slot;
        while slot + 1 < SLOT_COUNT && slot_owner(table, slot as u16 + 1, self_addr) == owner {
            slot += 1;
        }
        if let Some(owner) = owner {
            runs.push((start, slot, owner.to_string()));
        }
        slot += 1;
    }
    runs
}

/// # Format
/// `CLUSTER KEYSLOT key` | `CLUSTER COUNTKEYSINSLOT slot` |
/// `CLUSTER GETKEYSINSLOT slot count` (the keys Redis lists, in another order: Redis
/// lists a slot's newest key first) | `CLUSTER INFO` | `CLUSTER MYID` | `CLUSTER SLOTS` | `CLUSTER NODES`
pub(crate) fn cluster(ctx: &mut Ctx<'_>, argv: &[Arg<'_>]) -> Reply {
    if !ctx.db.config.cluster_enabled {
        return Reply::error(CLUSTER_DISABLED);
    }
    let sub = &argv[1];
    let self_addr = ctx.db.config.cluster_node_addr.clone();
    if is(sub, "keyslot") {
        if argv.len() != 3 {
            return arity_error("cluster|keyslot");
        }
        Reply::Integer(i64::from(key_hash_slot(&bytes(&argv[2]))))
    } else if is(sub, "countkeysinslot") {
        if argv.len() != 3 {
            return arity_error("cluster|countkeysinslot");
        }
        let slot = match super::int_arg(&argv[2]) {
            Ok(slot) => slot,
            Err(e) => return e,
        };
        if !(0..SLOT_COUNT as i64).contains(&slot) {
            return Reply::error("ERR Invalid slot");
        }
        Reply::Integer(ctx.db.count_keys_in_slot(slot as u16) as i64)
    } else if is(sub, "getkeysinslot") {
        if argv.len() != 4 {
            return arity_error("cluster|getkeysinslot");
        }
        let (slot, max_keys) = match (super::int_arg(&argv[2]), super::int_arg(&argv[3])) {
            (Ok(slot), Ok(max_keys)) => (slot, max_keys),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        if !(0..SLOT_COUNT as i64).contains(&slot) || max_keys < 0 {
            return Reply::error("ERR Invalid slot or number of keys");
        }
        // Redis answers with at most u32::MAX keys; a slot never holds that many here.
        let count = usize::try_from(max_keys).unwrap_or(usize::MAX);
        let keys = ctx.db.keys_in_slot(slot as u16, count);
        Reply::Array(keys.iter().map(|k| Reply::bulk(k)).collect())
    } else if is(sub, "myid") {
        Reply::bulk(node_id(&self_addr).as_bytes())
    } else if is(sub, "info") {
        let owned = ctx.db.slots.as_ref().map_or(0, |t| {
            (0..SLOT_COUNT as u16)
                .filter(|&s| !matches!(t.state(s), SlotState::Unassigned))
                .count()
        });
        let state = if owned == SLOT_COUNT { "ok" } else { "fail" };
        let text = format!(
            "cluster_state:{state}\r\ncluster_slots_assigned:{owned}\r\ncluster_slots_ok:{owned}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:1\r\ncluster_my_epoch:1\r\n"
        );
        Reply::Verbatim {
            format: *b"txt",
            text: text.into_bytes().into(),
        }
    } else if is(sub, "nodes") {
        // One line per node serving slots: this node, then each other address, with the
        // slot ranges each serves (cluster bus port = port + 10000, as Redis announces).
        let Some(table) = ctx.db.slots.as_ref() else {
            return Reply::bulk(b"");
        };
        let mut nodes: Vec<(String, Vec<(usize, usize)>)> = vec![(self_addr.clone(), Vec::new())];
        for (start, end, owner) in slot_runs(table, &self_addr) {
            match nodes.iter_mut().find(|(a, _)| *a == owner) {
                Some((_, ranges)) => ranges.push((start, end)),
                None => nodes.push((owner, vec![(start, end)])),
            }
        }
        let mut text = String::new();
        for (i, (addr, ranges)) in nodes.iter().enumerate() {
            let (host, port) = addr.rsplit_once(':').unwrap_or((addr.as_str(), "0"));
            let bus_port = port.parse::<u32>().unwrap_or(0) + 10_000;
            let flags = if i == 0 { "myself,master" } else { "master" };
            text.push_str(&format!(
                "{} {host}:{port}@{bus_port} {flags} - 0 0 1 connected",
                node_id(addr)
            ));
            for (start, end) in ranges {
                if start == end {
                    text.push_str(&format!(" {start}"));
                } else {
                    text.push_str(&format!(" {start}-{end}"));
                }
            }
            text.push('\n');
        }
        Reply::Bulk(crate::blob::Blob::Bytes(text.into_bytes().into()))
    } else if is(sub, "slots") {
        let Some(table) = ctx.db.slots.as_ref() else {
            return Reply::Array(Vec::new());
        };
        let mut out = Vec::new();
        for (start, end, addr) in slot_runs(table, &self_addr) {
            let (host, port) = addr.rsplit_once(':').unwrap_or((addr.as_str(), "0"));
            out.push(Reply::Array(vec![
                Reply::Integer(start as i64),
                Reply::Integer(end as i64),
                Reply::Array(vec![
                    Reply::bulk(host.as_bytes()),
                    Reply::Integer(port.parse().unwrap_or(0)),
                    Reply::bulk(node_id(&addr).as_bytes()),
                    // 7.0's networking metadata (hostname), empty here.
                    Reply::Map(Vec::new()),
                ]),
            ]));
        }
        Reply::Array(out)
    } else {
        unknown_subcommand(sub, "cluster")
    }
}

/// # Format
/// `READONLY` | `READWRITE`
///
/// Cluster clients send these to read from replicas; this node has none (it serves its
/// slots itself), so there is no state to keep, only Redis's replies.
pub(crate) fn readonly(ctx: &mut Ctx<'_>, _argv: &[Arg<'_>]) -> Reply {
    if !ctx.db.config.cluster_enabled {
        return Reply::error(CLUSTER_DISABLED);
    }
    Reply::Ok
}

/// # Format
/// `ASKING`
pub(crate) fn asking(ctx: &mut Ctx<'_>, _argv: &[Arg<'_>]) -> Reply {
    if !ctx.db.config.cluster_enabled {
        return Reply::error(CLUSTER_DISABLED);
    }
    ctx.session.asking = true;
    Reply::Ok
}

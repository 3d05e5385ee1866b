//! Model-based property test: random command sequences run against `Db` and against a
//! deliberately simple reference model (ordered maps, one variant per type, lazy expiry
//! written out by hand), and every reply and DBSIZE must agree.

use proptest::prelude::*;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use store_core::{Arg, Blob, Config, Db, Reply, Session};

#[derive(Clone, Debug)]
enum Cmd {
    Get(u8),
    Set(u8, &'static str),
    SetPx(u8, &'static str, u64),
    Del(Vec<u8>),
    Exists(Vec<u8>),
    Incr(u8),
    IncrBy(u8, i64),
    Append(u8, &'static str),
    Strlen(u8),
    Pexpire(u8, u64),
    Persist(u8),
    Pttl(u8),
    Type(u8),
    Hset(u8, &'static str, &'static str),
    Hget(u8, &'static str),
    Hdel(u8, &'static str),
    Hlen(u8),
    Lpush(u8, &'static str),
    Rpush(u8, &'static str),
    Lpop(u8),
    Rpop(u8),
    Lrange(u8),
    Sadd(u8, &'static str),
    Srem(u8, &'static str),
    Sismember(u8, &'static str),
    Scard(u8),
    Zadd(u8, i32, &'static str),
    Zscore(u8, &'static str),
    Zrem(u8, &'static str),
    Zrange(u8),
    SetNx(u8, &'static str),
    GetDel(u8),
    Rename(u8, u8),
    Dbsize,
    /// Advance the clock by this many ms.
    Tick(u64),
}

const VALUES: &[&str] = &["a", "bb", "1", "10", "-3", "007", "hello world"];
const FIELDS: &[&str] = &["f", "g", "1", "2"];

fn key_name(k: u8) -> String {
    format!("k{k}")
}

fn cmd_strategy() -> impl Strategy<Value = Cmd> {
    let key = 0u8..5;
    let value = proptest::sample::select(VALUES);
    let field = proptest::sample::select(FIELDS);
    prop_oneof![
        key.clone().prop_map(Cmd::Get),
        (key.clone(), value.clone()).prop_map(|(k, v)| Cmd::Set(k, v)),
        (key.clone(), value.clone(), 1u64..4000).prop_map(|(k, v, t)| Cmd::SetPx(k, v, t)),
        proptest::collection::vec(key.clone(), 1..4).prop_map(Cmd::Del),
        proptest::collection::vec(key.clone(), 1..4).prop_map(Cmd::Exists),
        key.clone().prop_map(Cmd::Incr),
        (key.clone(), -5i64..5).prop_map(|(k, n)| Cmd::IncrBy(k, n)),
        (key.clone(), value.clone()).prop_map(|(k, v)| Cmd::Append(k, v)),
        key.clone().prop_map(Cmd::Strlen),
        (key.clone(), 1u64..4000).prop_map(|(k, t)| Cmd::Pexpire(k, t)),
        key.clone().prop_map(Cmd::Persist),
        key.clone().prop_map(Cmd::Pttl),
        key.clone().prop_map(Cmd::Type),
        (key.clone(), field.clone(), value.clone()).prop_map(|(k, f, v)| Cmd::Hset(k, f, v)),
        (key.clone(), field.clone()).prop_map(|(k, f)| Cmd::Hget(k, f)),
        (key.clone(), field.clone()).prop_map(|(k, f)| Cmd::Hdel(k, f)),
        key.clone().prop_map(Cmd::Hlen),
        (key.clone(), value.clone()).prop_map(|(k, v)| Cmd::Lpush(k, v)),
        (key.clone(), value.clone()).prop_map(|(k, v)| Cmd::Rpush(k, v)),
        key.clone().prop_map(Cmd::Lpop),
        key.clone().prop_map(Cmd::Rpop),
        key.clone().prop_map(Cmd::Lrange),
        (key.clone(), field.clone()).prop_map(|(k, m)| Cmd::Sadd(k, m)),
        (key.clone(), field.clone()).prop_map(|(k, m)| Cmd::Srem(k, m)),
        (key.clone(), field.clone()).prop_map(|(k, m)| Cmd::Sismember(k, m)),
        key.clone().prop_map(Cmd::Scard),
        (key.clone(), -3i32..3, field.clone()).prop_map(|(k, s, m)| Cmd::Zadd(k, s, m)),
        (key.clone(), field.clone()).prop_map(|(k, m)| Cmd::Zscore(k, m)),
        (key.clone(), field.clone()).prop_map(|(k, m)| Cmd::Zrem(k, m)),
        key.clone().prop_map(Cmd::Zrange),
        (key.clone(), value.clone()).prop_map(|(k, v)| Cmd::SetNx(k, v)),
        key.clone().prop_map(Cmd::GetDel),
        (key.clone(), key.clone()).prop_map(|(a, b)| Cmd::Rename(a, b)),
        Just(Cmd::Dbsize),
        (0u64..3000).prop_map(Cmd::Tick),
    ]
}

fn argv_of(cmd: &Cmd) -> Vec<String> {
    let k = |k: &u8| key_name(*k);
    let s = |x: &str| x.to_string();
    match cmd {
        Cmd::Get(key) => vec![s("GET"), k(key)],
        Cmd::Set(key, v) => vec![s("SET"), k(key), s(v)],
        Cmd::SetPx(key, v, t) => vec![s("SET"), k(key), s(v), s("PX"), t.to_string()],
        Cmd::Del(keys) => std::iter::once(s("DEL"))
            .chain(keys.iter().map(k))
            .collect(),
        Cmd::Exists(keys) => std::iter::once(s("EXISTS"))
            .chain(keys.iter().map(k))
            .collect(),
        Cmd::Incr(key) => vec![s("INCR"), k(key)],
        Cmd::IncrBy(key, n) => vec![s("INCRBY"), k(key), n.to_string()],
        Cmd::Append(key, v) => vec![s("APPEND"), k(key), s(v)],
        Cmd::Strlen(key) => vec![s("STRLEN"), k(key)],
        Cmd::Pexpire(key, t) => vec![s("PEXPIRE"), k(key), t.to_string()],
        Cmd::Persist(key) => vec![s("PERSIST"), k(key)],
        Cmd::Pttl(key) => vec![s("PTTL"), k(key)],
        Cmd::Type(key) => vec![s("TYPE"), k(key)],
        Cmd::Hset(key, f, v) => vec![s("HSET"), k(key), s(f), s(v)],
        Cmd::Hget(key, f) => vec![s("HGET"), k(key), s(f)],
        Cmd::Hdel(key, f) => vec![s("HDEL"), k(key), s(f)],
        Cmd::Hlen(key) => vec![s("HLEN"), k(key)],
        Cmd::Lpush(key, v) => vec![s("LPUSH"), k(key), s(v)],
        Cmd::Rpush(key, v) => vec![s("RPUSH"), k(key), s(v)],
        Cmd::Lpop(key) => vec![s("LPOP"), k(key)],
        Cmd::Rpop(key) => vec![s("RPOP"), k(key)],
        Cmd::Lrange(key) => vec![s("LRANGE"), k(key), s("0"), s("-1")],
        Cmd::Sadd(key, m) => vec![s("SADD"), k(key), s(m)],
        Cmd::Srem(key, m) => vec![s("SREM"), k(key), s(m)],
        Cmd::Sismember(key, m) => vec![s("SISMEMBER"), k(key), s(m)],
        Cmd::Scard(key) => vec![s("SCARD"), k(key)],
        Cmd::Zadd(key, score, m) => vec![s("ZADD"), k(key), score.to_string(), s(m)],
        Cmd::Zscore(key, m) => vec![s("ZSCORE"), k(key), s(m)],
        Cmd::Zrem(key, m) => vec![s("ZREM"), k(key), s(m)],
        Cmd::Zrange(key) => vec![s("ZRANGE"), k(key), s("0"), s("-1"), s("WITHSCORES")],
        Cmd::SetNx(key, v) => vec![s("SETNX"), k(key), s(v)],
        Cmd::GetDel(key) => vec![s("GETDEL"), k(key)],
        Cmd::Rename(a, b) => vec![s("RENAME"), k(a), k(b)],
        Cmd::Dbsize => vec![s("DBSIZE")],
        Cmd::Tick(_) => Vec::new(),
    }
}

/// The reference: one plain container per type.
#[derive(Clone, Debug)]
enum MValue {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    List(VecDeque<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, f64>),
}

#[derive(Default)]
struct Model {
    keys: BTreeMap<Vec<u8>, (MValue, Option<u64>)>,
    now_ms: u64,
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn bulk(b: &[u8]) -> Reply {
    Reply::Bulk(Blob::from_slice(b))
}

fn parse_i64(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty()
        || s.starts_with('+')
        || (s.len() > 1 && (s.starts_with('0') || s.starts_with("-0")))
    {
        return None;
    }
    s.parse().ok()
}

impl Model {
    /// Lazy expiry: a key strictly past its expiry is deleted when named.
    fn touch(&mut self, key: &[u8]) {
        if let Some((_, Some(at))) = self.keys.get(key) {
            if self.now_ms > *at {
                self.keys.remove(key);
            }
        }
    }

    fn run(&mut self, cmd: &Cmd) -> Reply {
        let key = |k: &u8| key_name(*k).into_bytes();
        match cmd {
            Cmd::Tick(ms) => {
                self.now_ms += ms;
                Reply::Ok
            }
            Cmd::Dbsize => Reply::Integer(self.keys.len() as i64),
            Cmd::Rename(a, b) => {
                // The source is looked up (and lazily expired) first; the destination
                // only when the source exists and differs.
                let (a, b) = (key(a), key(b));
                self.touch(&a);
                let Some(entry) = self.keys.get(&a).cloned() else {
                    return Reply::error("ERR no such key");
                };
                if a == b {
                    return Reply::Ok;
                }
                self.touch(&b);
                self.keys.remove(&a);
                self.keys.insert(b, entry);
                Reply::Ok
            }
            Cmd::Del(keys) | Cmd::Exists(keys) => {
                let mut n = 0;
                for k in keys {
                    let k = key(k);
                    self.touch(&k);
                    if matches!(cmd, Cmd::Del(_)) {
                        n += i64::from(self.keys.remove(&k).is_some());
                    } else {
                        n += i64::from(self.keys.contains_key(&k));
                    }
                }
                Reply::Integer(n)
            }
            other => {
                let k = match other {
                    Cmd::Get(k)
                    | Cmd::Set(k, _)
                    | Cmd::SetPx(k, _, _)
                    | Cmd::Incr(k)
                    | Cmd::IncrBy(k, _) => key(k),
                    Cmd::Append(k, _)
                    | Cmd::Strlen(k)
                    | Cmd::Pexpire(k, _)
                    | Cmd::Persist(k)
                    | Cmd::Pttl(k) => key(k),
                    Cmd::Type(k)
                    | Cmd::Hset(k, _, _)
                    | Cmd::Hget(k, _)
                    | Cmd::Hdel(k, _)
                    | Cmd::Hlen(k) => key(k),
                    Cmd::Lpush(k, _)
                    | Cmd::Rpush(k, _)
                    | Cmd::Lpop(k)
                    | Cmd::Rpop(k)
                    | Cmd::Lrange(k) => key(k),
                    Cmd::Sadd(k, _) | Cmd::Srem(k, _) | Cmd::Sismember(k, _) | Cmd::Scard(k) => {
                        key(k)
                    }
                    Cmd::Zadd(k, _, _) | Cmd::Zscore(k, _) | Cmd::Zrem(k, _) | Cmd::Zrange(k) => {
                        key(k)
                    }
                    Cmd::SetNx(k, _) | Cmd::GetDel(k) => key(k),
                    _ => unreachable!("multi-key commands handled above"),
                };
                self.touch(&k);
                self.run_on(other, k)
            }
        }
    }

    fn run_on(&mut self, cmd: &Cmd, k: Vec<u8>) -> Reply {
        let now = self.now_ms;
        let entry = self.keys.get_mut(&k);
        let wrong = Reply::error(WRONGTYPE);
        match cmd {
            Cmd::Get(_) => match entry {
                None => Reply::Null,
                Some((MValue::Str(v), _)) => bulk(v),
                Some(_) => wrong,
            },
            Cmd::Set(_, v) => {
                self.keys
                    .insert(k, (MValue::Str(v.as_bytes().to_vec()), None));
                Reply::Ok
            }
            Cmd::SetPx(_, v, t) => {
                self.keys
                    .insert(k, (MValue::Str(v.as_bytes().to_vec()), Some(now + t)));
                Reply::Ok
            }
            Cmd::Incr(_) | Cmd::IncrBy(..) => {
                let by = if let Cmd::IncrBy(_, n) = cmd { *n } else { 1 };
                let (current, expire) = match entry {
                    None => (0, None),
                    Some((MValue::Str(v), e)) => match parse_i64(v) {
                        Some(n) => (n, *e),
                        None => return Reply::error("ERR value is not an integer or out of range"),
                    },
                    Some(_) => return wrong,
                };
                let new = current + by;
                self.keys
                    .insert(k, (MValue::Str(new.to_string().into_bytes()), expire));
                Reply::Integer(new)
            }
            Cmd::Append(_, v) => match entry {
                None => {
                    self.keys
                        .insert(k, (MValue::Str(v.as_bytes().to_vec()), None));
                    Reply::Integer(v.len() as i64)
                }
                Some((MValue::Str(s), _)) => {
                    s.extend_from_slice(v.as_bytes());
                    Reply::Integer(s.len() as i64)
                }
                Some(_) => wrong,
            },
            Cmd::Strlen(_) => match entry {
                None => Reply::Integer(0),
                Some((MValue::Str(s), _)) => Reply::Integer(s.len() as i64),
                Some(_) => wrong,
            },
            Cmd::Pexpire(_, t) => match entry {
                None => Reply::Integer(0),
                Some((_, e)) => {
                    *e = Some(now + t);
                    Reply::Integer(1)
                }
            },
            Cmd::Persist(_) => match entry {
                Some((_, e)) if e.is_some() => {
                    *e = None;
                    Reply::Integer(1)
                }
                _ => Reply::Integer(0),
            },
            Cmd::Pttl(_) => match entry {
                None => Reply::Integer(-2),
                Some((_, None)) => Reply::Integer(-1),
                Some((_, Some(at))) => Reply::Integer(at.saturating_sub(now) as i64),
            },
            Cmd::Type(_) => Reply::simple(match entry {
                None => "none",
                Some((MValue::Str(_), _)) => "string",
                Some((MValue::Hash(_), _)) => "hash",
                Some((MValue::List(_), _)) => "list",
                Some((MValue::Set(_), _)) => "set",
                Some((MValue::ZSet(_), _)) => "zset",
            }),
            Cmd::Hset(_, f, v) => {
                let entry = self
                    .keys
                    .entry(k)
                    .or_insert((MValue::Hash(BTreeMap::new()), None));
                match &mut entry.0 {
                    MValue::Hash(h) => Reply::Integer(i64::from(
                        h.insert(f.as_bytes().to_vec(), v.as_bytes().to_vec())
                            .is_none(),
                    )),
                    _ => wrong,
                }
            }
            Cmd::Hget(_, f) => match entry {
                None => Reply::Null,
                Some((MValue::Hash(h), _)) => h.get(f.as_bytes()).map_or(Reply::Null, |v| bulk(v)),
                Some(_) => wrong,
            },
            Cmd::Hdel(_, f) => match entry {
                None => Reply::Integer(0),
                Some((MValue::Hash(h), _)) => {
                    let removed = h.remove(f.as_bytes()).is_some();
                    if h.is_empty() {
                        self.keys.remove(&k);
                    }
                    Reply::Integer(i64::from(removed))
                }
                Some(_) => wrong,
            },
            Cmd::Hlen(_) => match entry {
                None => Reply::Integer(0),
                Some((MValue::Hash(h), _)) => Reply::Integer(h.len() as i64),
                Some(_) => wrong,
            },
            Cmd::Lpush(_, v) | Cmd::Rpush(_, v) => {
                let entry = self
                    .keys
                    .entry(k)
                    .or_insert((MValue::List(VecDeque::new()), None));
                match &mut entry.0 {
                    MValue::List(l) => {
                        if matches!(cmd, Cmd::Lpush(..)) {
                            l.push_front(v.as_bytes().to_vec());
                        } else {
                            l.push_back(v.as_bytes().to_vec());
                        }
                        Reply::Integer(l.len() as i64)
                    }
                    _ => wrong,
                }
            }
            Cmd::Lpop(_) | Cmd::Rpop(_) => match entry {
                None => Reply::Null,
                Some((MValue::List(l), _)) => {
                    let item = if matches!(cmd, Cmd::Lpop(_)) {
                        l.pop_front()
                    } else {
                        l.pop_back()
                    };
                    if l.is_empty() {
                        self.keys.remove(&k);
                    }
                    item.map_or(Reply::Null, |i| bulk(&i))
                }
                Some(_) => wrong,
            },
            Cmd::Lrange(_) => match entry {
                None => Reply::Array(Vec::new()),
                Some((MValue::List(l), _)) => Reply::Array(l.iter().map(|i| bulk(i)).collect()),
                Some(_) => wrong,
            },
            Cmd::Sadd(_, m) => {
                let entry = self
                    .keys
                    .entry(k)
                    .or_insert((MValue::Set(BTreeSet::new()), None));
                match &mut entry.0 {
                    MValue::Set(s) => Reply::Integer(i64::from(s.insert(m.as_bytes().to_vec()))),
                    _ => wrong,
                }
            }
            Cmd::Srem(_, m) => match entry {
                None => Reply::Integer(0),
                Some((MValue::Set(s), _)) => {
                    let removed = s.remove(m.as_bytes());
                    if s.is_empty() {
                        self.keys.remove(&k);
                    }
                    Reply::Integer(i64::from(removed))
                }
                Some(_) => wrong,
            },
            Cmd::Sismember(_, m) => match entry {
                None => Reply::Integer(0),
                Some((MValue::Set(s), _)) => Reply::Integer(i64::from(s.contains(m.as_bytes()))),
                Some(_) => wrong,
            },
            Cmd::Scard(_) => match entry {
                None => Reply::Integer(0),
                Some((MValue::Set(s), _)) => Reply::Integer(s.len() as i64),
                Some(_) => wrong,
            },
            Cmd::Zadd(_, score, m) => {
                let entry = self
                    .keys
                    .entry(k)
                    .or_insert((MValue::ZSet(BTreeMap::new()), None));
                match &mut entry.0 {
                    MValue::ZSet(z) => Reply::Integer(i64::from(
                        z.insert(m.as_bytes().to_vec(), f64::from(*score)).is_none(),
                    )),
                    _ => wrong,
                }
            }
            Cmd::Zscore(_, m) => match entry {
                None => Reply::Null,
                Some((MValue::ZSet(z), _)) => z
                    .get(m.as_bytes())
                    .map_or(Reply::Null, |s| Reply::Double(*s)),
                Some(_) => wrong,
            },
            Cmd::Zrem(_, m) => match entry {
                None => Reply::Integer(0),
                Some((MValue::ZSet(z), _)) => {
                    let removed = z.remove(m.as_bytes()).is_some();
                    if z.is_empty() {
                        self.keys.remove(&k);
                    }
                    Reply::Integer(i64::from(removed))
                }
                Some(_) => wrong,
            },
            Cmd::Zrange(_) => match entry {
                None => Reply::Array(Vec::new()),
                Some((MValue::ZSet(z), _)) => {
                    let mut items: Vec<(f64, &Vec<u8>)> = z.iter().map(|(m, s)| (*s, m)).collect();
                    items.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
                    Reply::Array(
                        items
                            .into_iter()
                            .flat_map(|(s, m)| [bulk(m), Reply::Double(s)])
                            .collect(),
                    )
                }
                Some(_) => wrong,
            },
            Cmd::SetNx(_, v) => match entry {
                Some(_) => Reply::Integer(0),
                None => {
                    self.keys
                        .insert(k, (MValue::Str(v.as_bytes().to_vec()), None));
                    Reply::Integer(1)
                }
            },
            Cmd::GetDel(_) => match entry {
                None => Reply::Null,
                Some((MValue::Str(v), _)) => {
                    let reply = bulk(v);
                    self.keys.remove(&k);
                    reply
                }
                Some(_) => wrong,
            },
            Cmd::Tick(_) | Cmd::Dbsize | Cmd::Del(_) | Cmd::Exists(_) | Cmd::Rename(..) => {
                unreachable!("handled in run")
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// For any sequence of commands over a few keys of every type, with the clock moving
    /// forward between them, the store answers every command exactly as the reference
    /// model does (values, errors, WRONGTYPE, lazy expiry visible through PTTL, EXISTS and
    /// GET), and DBSIZE (which counts expired keys not yet looked up) agrees after each.
    #[test]
    fn store_agrees_with_reference_model(cmds in proptest::collection::vec(cmd_strategy(), 1..120)) {
        let mut db = Db::new(Config::default());
        let mut session = Session::new(1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut model = Model { now_ms: 1_000_000, ..Model::default() };
        for (step, cmd) in cmds.iter().enumerate() {
            let expected = model.run(cmd);
            if let Cmd::Tick(_) = cmd {
                continue;
            }
            let args = argv_of(cmd);
            let argv: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
            let got = db.execute(&mut session, &argv, model.now_ms, &mut rng);
            prop_assert_eq!(&got, &expected, "step {} {:?}", step, args);
            prop_assert_eq!(db.dbsize(), model.keys.len() as u64, "DBSIZE after step {} {:?}", step, args);
        }
    }
}

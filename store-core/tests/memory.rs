//! used_memory against redis-server 7.0.15: loads the reference datasets (the six of the
//! issue, plus keys with a TTL and integer values) into a
//! `Db` and checks that its used_memory growth is within 5% of the growth measured on
//! the real server (`memory_reference.txt`, recorded by `record_memory.py`, which
//! generates the same commands).

use rand::SeedableRng;
use store_core::{Arg, Config, Db, Session};

fn datasets() -> Vec<(&'static str, Vec<Vec<String>>)> {
    let s = |x: &str| x.to_string();
    vec![
        (
            "strings_100k_16b_keys_100b_values",
            (0..100_000)
                .map(|i| vec![s("SET"), format!("key:{i:012}"), "v".repeat(100)])
                .collect(),
        ),
        (
            "strings_100k_1000b_values",
            (0..100_000)
                .map(|i| vec![s("SET"), format!("key:{i:012}"), "v".repeat(1000)])
                .collect(),
        ),
        (
            "strings_100k_with_ttl",
            (0..100_000)
                .map(|i| {
                    vec![
                        s("SET"),
                        format!("key:{i:012}"),
                        "v".repeat(100),
                        s("EX"),
                        s("100000"),
                    ]
                })
                .collect(),
        ),
        (
            "integers_100k",
            (0..100_000)
                .map(|i| vec![s("SET"), format!("key:{i:012}"), i.to_string()])
                .collect(),
        ),
        (
            "hashes_10k_10_fields",
            (0..10_000)
                .map(|i| {
                    let mut c = vec![s("HSET"), format!("hash:{i:08}")];
                    for j in 0..10 {
                        c.push(format!("field:{j}"));
                        c.push(format!("value-{j}-abcdef"));
                    }
                    c
                })
                .collect(),
        ),
        (
            "lists_10k_100_elements",
            (0..10_000)
                .map(|i| {
                    let mut c = vec![s("RPUSH"), format!("list:{i:08}")];
                    c.extend((0..100).map(|j| format!("element-{j}")));
                    c
                })
                .collect(),
        ),
        (
            "sets_10k_50_members",
            (0..10_000)
                .map(|i| {
                    let mut c = vec![s("SADD"), format!("set:{i:08}")];
                    c.extend((0..50).map(|j| format!("member:{j}")));
                    c
                })
                .collect(),
        ),
        (
            "zsets_10k_50_members",
            (0..10_000)
                .map(|i| {
                    let mut c = vec![s("ZADD"), format!("zset:{i:08}")];
                    for j in 0..50 {
                        c.push(j.to_string());
                        c.push(format!("member:{j}"));
                    }
                    c
                })
                .collect(),
        ),
    ]
}

fn reference() -> Vec<(String, u64)> {
    let path = format!("{}/tests/memory_reference.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .expect("memory_reference.txt readable")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, bytes) = l.split_once(' ')?;
            Some((name.to_string(), bytes.parse().ok()?))
        })
        .collect()
}

/// Each dataset's used_memory growth is within 5% of redis-server's (the requirement is 15%;
/// the tighter bound guards what the model achieves today).
#[test]
fn used_memory_growth_tracks_redis() {
    let reference = reference();
    let mut report = Vec::new();
    let mut worst = 0.0f64;
    for (name, commands) in datasets() {
        let mut db = Db::new(Config::default());
        let mut session = Session::new(1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let before = db.used_memory();
        for cmd in &commands {
            let argv: Vec<Arg<'_>> = cmd.iter().map(|a| Arg::Bytes(a.as_bytes())).collect();
            let reply = db.execute(&mut session, &argv, 1_000, &mut rng);
            assert!(!reply.is_error(), "{name}: {cmd:?} -> {reply:?}");
        }
        let ours = db.used_memory() - before;
        let redis = reference
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| *b)
            .expect("dataset in memory_reference.txt");
        let error = (ours as f64 - redis as f64) / redis as f64;
        worst = worst.max(error.abs());
        report.push(format!(
            "{name:<36} redis {redis:>11} store {ours:>11} error {:>+6.2}%",
            error * 100.0
        ));
    }
    let table = report.join("\n");
    println!("{table}");
    assert!(worst <= 0.05, "used_memory off by more than 5%:\n{table}");
}

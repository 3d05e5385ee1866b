//! The thread-per-core engine's calibration: the bundled `engine-thread-scaling`
//! scenario, searched as the published figures were measured (the highest throughput
//! with p99.9 under 10 ms), against Dragonfly's published scaling on c7gn.16xlarge
//! (dragonflydb.io blog "2024 new year new number"; docs/REFERENCES.md section 4).
//! From 4 threads up every residual is within 25%; the misses below are asserted as
//! what the documentation says they are, so that it stays true.

use models::run::variants_with_seed;
use models::scenario::bundled;
use models::search::{search_variant, SearchSpec};
use rayon::prelude::*;

/// (threads, published ops/s).
const PUBLISHED: [(u32, f64); 7] = [
    (1, 302_603.0),
    (2, 329_755.0),
    (4, 744_708.0),
    (8, 1_370_980.0),
    (16, 2_749_539.0),
    (32, 4_263_950.0),
    (64, 6_432_982.0),
];

#[test]
fn thread_scaling_matches_the_published_figures_from_four_threads_up() {
    let scenario = bundled::find("engine-thread-scaling")
        .expect("bundled")
        .expect("loads");
    let variants = variants_with_seed(&scenario, None);
    assert_eq!(variants.len(), PUBLISHED.len());
    // One cost model for every thread count: nothing in it depends on the count.
    let cost = variants[0].config.cluster.cpu_cost;
    assert!(variants.iter().all(|v| v.config.cluster.cpu_cost == cost));
    let spec = SearchSpec {
        p999_ms: 10.0,
        steps: 4,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("threads");
    let results: Vec<_> = pool.install(|| {
        variants
            .par_iter()
            .map(|v| search_variant(v, spec).expect("the search runs"))
            .collect()
    });
    eprintln!("threads  published op/s  simulated op/s  residual");
    let mut residuals = Vec::new();
    for ((threads, published), (v, r)) in PUBLISHED.iter().zip(variants.iter().zip(&results)) {
        assert_eq!(v.config.cluster.node.threads, Some(*threads), "{}", v.name);
        let best = r.best.as_ref().expect("some rate passes");
        assert!(best.latency_ms_p999 < 10.0);
        let residual = r.ops_per_s() / published - 1.0;
        eprintln!(
            "{threads:>7}  {published:>14.0}  {:>14.0}  {:>+7.1}%",
            r.ops_per_s(),
            residual * 100.0
        );
        residuals.push((*threads, residual));
    }
    for (threads, residual) in residuals {
        match threads {
            // One thread: no hops; the per-command costs are fitted here.
            1 => assert!(residual.abs() < 0.05, "1 thread: {residual:+.3}"),
            // Two threads: half the commands hop, which any hop cost that fits 4 to 64
            // threads makes cost more than the published step from 1 to 2 (+9%) allows:
            // over by about a quarter (docs/REFERENCES.md section 4 explains).
            2 => assert!(
                (0.10..0.40).contains(&residual),
                "2 threads: {residual:+.3}"
            ),
            _ => assert!(residual.abs() <= 0.25, "{threads} threads: {residual:+.3}"),
        }
    }
}

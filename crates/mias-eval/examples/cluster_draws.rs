//! Prints the first draws of the bootstrap over clusters as JSON, for the reference script
//! `tests/data/make_cluster_bootstrap.py` (which recomputes the interval with numpy and
//! scikit-learn from exactly these draws).
//!
//! ```text
//! cargo run -p mias-eval --example cluster_draws -- SEED CLUSTERS DRAWS
//! ```
//!
//! Output: a JSON array of `DRAWS` arrays, each `CLUSTERS` cluster numbers in `0..CLUSTERS`
//! (cluster `c` is the `c`-th smallest cluster id), as `mias_eval::Clusters::draws` yields them.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [seed, clusters, draws] => seed
            .parse::<u64>()
            .ok()
            .zip(clusters.parse::<usize>().ok())
            .zip(draws.parse::<usize>().ok()),
        _ => None,
    };
    let Some(((seed, k), n)) = parsed else {
        eprintln!("usage: cluster_draws SEED CLUSTERS DRAWS (three non-negative integers)");
        return ExitCode::FAILURE;
    };
    let ids: Vec<usize> = (0..k).collect();
    let clusters = match mias_eval::Clusters::new(&ids) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let draws: Vec<Vec<usize>> = clusters.draws(seed).take(n).collect();
    println!("{}", serde_json::to_string(&draws).unwrap_or_default());
    ExitCode::SUCCESS
}

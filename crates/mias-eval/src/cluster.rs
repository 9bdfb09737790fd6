//! The bootstrap over clusters: cases that are not independent (the two breasts of one woman,
//! the views of one patient) are resampled a whole cluster at a time, so the interval carries
//! the correlation inside a cluster instead of pretending every case is a new patient.
//!
//! [`Clusters`] numbers the distinct cluster ids in ascending order and [`Clusters::draws`]
//! yields, from `mias_core::rng::derived(seed, "cluster-bootstrap", &[])`, one draw per
//! replicate: as many cluster numbers as there are clusters, each `rng::below(clusters)`, with
//! replacement. A
//! replicate is every case of every drawn cluster (a cluster drawn twice counts twice).
//! [`cluster_bootstrap`] computes any statistic on such replicates; a replicate on which the
//! statistic is undefined is **redrawn** (the next draw of the same stream takes its place) and
//! counted, so the interval always rests on exactly `replicates` figures.
//!
//! The AUC on it is in `cluster_auc.rs` ([`crate::auc_cluster_bootstrap`],
//! [`crate::class_auc`]).

use mias_core::rng::{self, Rng};

use crate::error::{Error, Result};
use crate::interval::Bootstrap;
use crate::stats::{check_level, percentile_sorted};

/// Draws of a cluster bootstrap give up after `MAX_ATTEMPTS_PER_REPLICATE * replicates`
/// draws: with both classes present in the data, a draw has them both with probability about
/// one half or more, so this is never reached unless the statistic is undefined everywhere.
const MAX_ATTEMPTS_PER_REPLICATE: usize = 100;

/// Cases grouped by cluster id, clusters numbered in ascending id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clusters {
    /// Case indices of each cluster, in input order.
    members: Vec<Vec<usize>>,
    /// Number of cases.
    cases: usize,
}

impl Clusters {
    /// Groups cases by their cluster id (`ids[i]` is case `i`'s cluster, e.g. its woman).
    /// Cluster `c` is the `c`-th smallest distinct id. Errors on empty input.
    pub fn new<C: Ord>(ids: &[C]) -> Result<Self> {
        if ids.is_empty() {
            return Err(Error::Empty { what: "no cases" });
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        // Stable: cases of one cluster keep their input order.
        order.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            let same_cluster = k > 0 && ids[order[k - 1]] == ids[i];
            match members.last_mut() {
                Some(m) if same_cluster => m.push(i),
                _ => members.push(vec![i]),
            }
        }
        Ok(Self {
            members,
            cases: ids.len(),
        })
    }

    /// Number of clusters.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always `false`: [`Clusters::new`] refuses empty input.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Number of cases.
    pub fn cases(&self) -> usize {
        self.cases
    }

    /// Case indices of cluster `c` (the `c`-th smallest id), in input order; `None` past the
    /// last cluster.
    pub fn members(&self, c: usize) -> Option<&[usize]> {
        self.members.get(c).map(Vec::as_slice)
    }

    /// The endless stream of draws from `mias_core::rng::derived(seed, "cluster-bootstrap",
    /// &[])`: each item is
    /// [`len`](Self::len) cluster numbers drawn uniformly with replacement.
    pub fn draws(&self, seed: u64) -> ClusterDraws {
        ClusterDraws {
            rng: rng::derived(seed, "cluster-bootstrap", &[]),
            clusters: self.len(),
        }
    }

    /// Fills `cases` with the cases of one draw: every member of every drawn cluster, in draw
    /// order. Errors on a cluster number past the last cluster.
    pub fn expand(&self, draw: &[usize], cases: &mut Vec<usize>) -> Result<()> {
        cases.clear();
        for &c in draw {
            let members = self.members(c).ok_or_else(|| Error::InvalidParameter {
                name: "cluster number",
                value: c.to_string(),
                expected: "below the number of clusters",
            })?;
            cases.extend_from_slice(members);
        }
        Ok(())
    }
}

/// The draws of [`Clusters::draws`].
#[derive(Debug, Clone)]
pub struct ClusterDraws {
    rng: Rng,
    clusters: usize,
}

impl Iterator for ClusterDraws {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        let k = self.clusters;
        Some((0..k).map(|_| rng::below(&mut self.rng, k)).collect())
    }
}

/// A percentile interval from a cluster bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterInterval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Draws on which the statistic was undefined, redrawn.
    pub redrawn: usize,
}

/// Runs the bootstrap over clusters: draws from [`Clusters::draws`] until `statistic` (given
/// the case indices of a replicate) has given `bootstrap.replicates` figures, redrawing each
/// draw on which it returns `None`; then the percentile interval at `level` (numpy's linear
/// interpolation).
///
/// Errors on bad settings, and when the statistic stays undefined for
/// 100 x `replicates` draws.
pub fn cluster_bootstrap<F>(
    clusters: &Clusters,
    bootstrap: &Bootstrap,
    level: f64,
    what: &'static str,
    mut statistic: F,
) -> Result<ClusterInterval>
where
    F: FnMut(&[usize]) -> Option<f64>,
{
    let mut cases = Vec::with_capacity(clusters.cases());
    let intervals = cluster_bootstrap_draws(clusters, bootstrap, level, what, 1, |draw| {
        // A draw's numbers are in range by construction: the expansion cannot fail.
        clusters.expand(draw, &mut cases).ok()?;
        statistic(&cases).map(|v| vec![Some(v)])
    })?;
    let interval = intervals
        .first()
        .copied()
        .flatten()
        .ok_or(Error::BootstrapExhausted {
            what,
            valid: 0,
            attempts: 0,
            needed: bootstrap.replicates,
        })?;
    Ok(interval)
}

/// The machinery under [`cluster_bootstrap`], for several figures computed on the same
/// draws (e.g. the AUC, sensitivity and specificity of one model, or the AUCs of two models
/// and their difference): `statistic` gets each draw itself (`clusters.len()` cluster
/// numbers, [`Clusters::draws`]) and returns `None` when the draw is to be **redrawn** (e.g.
/// one class absent), else `figures` values, each `None` when that one figure is undefined
/// on an otherwise valid draw (e.g. precision with nothing called abnormal).
///
/// Draws continue until `bootstrap.replicates` draws were valid. Figure `k`'s interval is the
/// percentile interval of its defined values on those draws (`None` when it was never
/// defined); `redrawn` counts the draws redrawn, the same for every figure.
///
/// Errors on bad settings, a statistic that returns a number of values other than
/// `figures`, and when fewer than `replicates` of 100 x `replicates` draws are valid.
pub fn cluster_bootstrap_draws<F>(
    clusters: &Clusters,
    bootstrap: &Bootstrap,
    level: f64,
    what: &'static str,
    figures: usize,
    mut statistic: F,
) -> Result<Vec<Option<ClusterInterval>>>
where
    F: FnMut(&[usize]) -> Option<Vec<Option<f64>>>,
{
    bootstrap.check()?;
    check_level(level)?;
    let wanted = bootstrap.replicates;
    let max_attempts = MAX_ATTEMPTS_PER_REPLICATE * wanted;
    let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(wanted); figures];
    let (mut valid, mut attempts) = (0, 0);
    let mut draws = clusters.draws(bootstrap.seed);
    while valid < wanted {
        if attempts == max_attempts {
            return Err(Error::BootstrapExhausted {
                what,
                valid,
                attempts,
                needed: wanted,
            });
        }
        attempts += 1;
        let draw = draws.next().unwrap_or_default();
        let Some(got) = statistic(&draw) else {
            continue;
        };
        if got.len() != figures {
            return Err(Error::InvalidParameter {
                name: "bootstrap statistic",
                value: format!("{} figures", got.len()),
                expected: "as many figures as announced",
            });
        }
        valid += 1;
        for (slot, v) in values.iter_mut().zip(got) {
            slot.extend(v);
        }
    }
    let alpha = 1.0 - level;
    Ok(values
        .into_iter()
        .map(|mut v| {
            (!v.is_empty()).then(|| {
                v.sort_by(f64::total_cmp);
                ClusterInterval {
                    low: percentile_sorted(&v, alpha / 2.0),
                    high: percentile_sorted(&v, 1.0 - alpha / 2.0),
                    redrawn: attempts - wanted,
                }
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_number_ids_in_ascending_order() {
        let c = Clusters::new(&["b", "a", "b", "c", "a"]).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c.members(0), Some(&[1, 4][..]));
        assert_eq!(c.members(1), Some(&[0, 2][..]));
        assert_eq!(c.members(2), Some(&[3][..]));
        assert_eq!(c.members(3), None);
        let mut cases = Vec::new();
        c.expand(&[2, 0, 0], &mut cases).unwrap();
        assert_eq!(cases, vec![3, 1, 4, 1, 4]);
        assert!(c.expand(&[3], &mut cases).is_err());
        assert!(Clusters::new::<u32>(&[]).is_err());
    }

    #[test]
    fn draws_are_seeded_and_in_range() {
        let c = Clusters::new(&[5u32, 6, 7, 8]).unwrap();
        let a: Vec<Vec<usize>> = c.draws(1).take(20).collect();
        let b: Vec<Vec<usize>> = c.draws(1).take(20).collect();
        let other: Vec<Vec<usize>> = c.draws(2).take(20).collect();
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert!(a.iter().all(|d| d.len() == 4 && d.iter().all(|&k| k < 4)));
    }

    #[test]
    fn an_undefined_statistic_is_an_error_not_a_loop() {
        let c = Clusters::new(&[0u8, 1]).unwrap();
        let b = Bootstrap {
            replicates: 100,
            seed: 0,
        };
        let err = cluster_bootstrap(&c, &b, 0.95, "nothing", |_| None).unwrap_err();
        assert!(
            matches!(
                err,
                Error::BootstrapExhausted {
                    valid: 0,
                    attempts: 10_000,
                    ..
                }
            ),
            "{err}"
        );
    }
}

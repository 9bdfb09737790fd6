//! Point estimates with confidence intervals: the [`Estimate`] type, the Wilson score interval
//! for proportions, and the seeded stratified percentile bootstrap used for F1 and (optionally)
//! AUC.

use std::fmt;

use mias_core::rng;

use crate::error::{Error, Result};
use crate::stats::{check_level, normal_ppf, percentile_sorted};

/// How an interval was computed; printed under every table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalMethod {
    /// Wilson score interval for a binomial proportion.
    Wilson,
    /// Percentile interval of a bootstrap that resamples abnormal and normal cases separately
    /// (class counts fixed), drawn from the seeded stream of [`Bootstrap`].
    StratifiedBootstrap {
        /// Number of bootstrap replicates.
        replicates: usize,
        /// Seed of the random draws.
        seed: u64,
    },
    /// Percentile interval of a bootstrap that resamples whole clusters (e.g. women) with
    /// replacement, drawn from `ChaCha8Rng::seed_from_u64(seed)`; draws on which the figure is
    /// undefined (one class absent) are redrawn and counted.
    ClusterBootstrap {
        /// Number of bootstrap replicates (figures the interval rests on).
        replicates: usize,
        /// Seed of the random draws.
        seed: u64,
        /// Number of clusters resampled.
        clusters: usize,
        /// Draws redrawn because the figure was undefined on them.
        redrawn: usize,
    },
    /// DeLong's asymptotic normal interval for the AUC (fast algorithm with midranks), clipped
    /// to `[0, 1]`.
    DeLong,
    /// Student-t interval of the mean over cross-validation folds.
    StudentT {
        /// Number of folds the mean is over.
        folds: usize,
    },
}

impl fmt::Display for IntervalMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wilson => f.write_str("Wilson score"),
            Self::StratifiedBootstrap { replicates, seed } => write!(
                f,
                "stratified bootstrap percentile ({replicates} replicates, seed {seed})"
            ),
            Self::ClusterBootstrap {
                replicates,
                seed,
                clusters,
                redrawn,
            } => write!(
                f,
                "bootstrap over {clusters} clusters, percentile ({replicates} replicates, seed \
                 {seed}, {redrawn} draws without both classes redrawn)"
            ),
            Self::DeLong => f.write_str("DeLong"),
            Self::StudentT { folds } => write!(f, "Student t over {folds} folds"),
        }
    }
}

/// A figure with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The point estimate (a proportion in `[0, 1]` for every metric of this crate).
    pub value: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// Cases the figure rests on: the denominator of a proportion (e.g. `tp + fp` for
    /// precision), all cases for F1 and AUC.
    pub n: u64,
    /// Confidence level of the interval, e.g. 0.95.
    pub level: f64,
    /// How the interval was computed.
    pub method: IntervalMethod,
}

/// Wilson score interval for `successes` out of `trials` at confidence `level`.
///
/// Returns `Ok(None)` when `trials` is 0 (the proportion is undefined). Errors when
/// `successes > trials` or the level is not in (0, 1).
pub fn wilson(successes: u64, trials: u64, level: f64) -> Result<Option<Estimate>> {
    check_level(level)?;
    if successes > trials {
        return Err(Error::InvalidParameter {
            name: "successes",
            value: format!("{successes} of {trials} trials"),
            expected: "at most the number of trials",
        });
    }
    if trials == 0 {
        return Ok(None);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z = normal_ppf(1.0 - (1.0 - level) / 2.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Ok(Some(Estimate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
        n: trials,
        level,
        method: IntervalMethod::Wilson,
    }))
}

/// The tag of the bootstrap's random stream (`mias_core::rng::derived`).
const BOOTSTRAP_TAG: &str = "bootstrap";

/// Settings of the stratified percentile bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrap {
    /// Number of replicates (at least 100).
    pub replicates: usize,
    /// The seed: replicates are drawn from `mias_core::rng::derived(seed, "bootstrap", &[])`.
    pub seed: u64,
}

impl Default for Bootstrap {
    /// 2000 replicates, seed 0.
    fn default() -> Self {
        Self {
            replicates: 2000,
            seed: 0,
        }
    }
}

impl Bootstrap {
    pub(crate) fn check(&self) -> Result<()> {
        if self.replicates < 100 {
            return Err(Error::InvalidParameter {
                name: "bootstrap replicates",
                value: self.replicates.to_string(),
                expected: "at least 100",
            });
        }
        Ok(())
    }

    /// Runs the bootstrap: each replicate draws, with replacement, as many abnormal cases from
    /// `positives` and as many normal cases from `negatives` as there are, and `statistic`
    /// maps the drawn indices to a figure (`None` when undefined on that replicate; such
    /// replicates are skipped). Returns the percentile interval at `level`, or `None` when no
    /// replicate gave a figure.
    pub(crate) fn percentile_interval<F>(
        &self,
        positives: &[usize],
        negatives: &[usize],
        level: f64,
        mut statistic: F,
    ) -> Result<Option<(f64, f64)>>
    where
        F: FnMut(&[usize], &[usize]) -> Option<f64>,
    {
        self.check()?;
        check_level(level)?;
        let mut rng = rng::derived(self.seed, BOOTSTRAP_TAG, &[]);
        let mut pos = vec![0usize; positives.len()];
        let mut neg = vec![0usize; negatives.len()];
        let mut values = Vec::with_capacity(self.replicates);
        for _ in 0..self.replicates {
            for slot in pos.iter_mut() {
                *slot = positives[rng::below(&mut rng, positives.len())];
            }
            for slot in neg.iter_mut() {
                *slot = negatives[rng::below(&mut rng, negatives.len())];
            }
            if let Some(v) = statistic(&pos, &neg) {
                values.push(v);
            }
        }
        if values.is_empty() {
            return Ok(None);
        }
        values.sort_by(f64::total_cmp);
        let alpha = 1.0 - level;
        Ok(Some((
            percentile_sorted(&values, alpha / 2.0),
            percentile_sorted(&values, 1.0 - alpha / 2.0),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_by_hand() {
        // 8 of 10 at 95%: z = 1.959964; centre = (0.8 + z^2/20) / (1 + z^2/10) = 0.750593...;
        // half = z / (1 + z^2/10) * sqrt(0.016 + z^2/400) = 0.183... -> [0.4902, 0.9433]
        // (the textbook figures for this example).
        let e = wilson(8, 10, 0.95).unwrap().unwrap();
        assert!((e.value - 0.8).abs() < 1e-15);
        assert!((e.low - 0.490_162).abs() < 1e-6, "{}", e.low);
        assert!((e.high - 0.943_318).abs() < 1e-6, "{}", e.high);
        assert_eq!(e.n, 10);
    }

    #[test]
    fn wilson_edges() {
        assert_eq!(wilson(0, 0, 0.95).unwrap(), None);
        let all = wilson(5, 5, 0.95).unwrap().unwrap();
        assert_eq!(all.high, 1.0);
        assert!(all.low < 1.0 && all.low > 0.0);
        assert!(wilson(6, 5, 0.95).is_err());
        assert!(wilson(1, 5, 1.5).is_err());
    }

    #[test]
    fn bootstrap_is_seeded() {
        let pos: Vec<usize> = (0..10).collect();
        let neg: Vec<usize> = (10..30).collect();
        let stat = |p: &[usize], n: &[usize]| {
            Some(p.iter().chain(n).map(|&i| i as f64).sum::<f64>() / 30.0)
        };
        let b = Bootstrap {
            replicates: 500,
            seed: 3,
        };
        let a1 = b.percentile_interval(&pos, &neg, 0.95, stat).unwrap();
        let a2 = b.percentile_interval(&pos, &neg, 0.95, stat).unwrap();
        let other = Bootstrap {
            replicates: 500,
            seed: 4,
        };
        let a3 = other.percentile_interval(&pos, &neg, 0.95, stat).unwrap();
        assert_eq!(a1, a2);
        assert_ne!(a1, a3);
        assert!(
            Bootstrap {
                replicates: 10,
                seed: 0
            }
            .check()
            .is_err()
        );
    }
}

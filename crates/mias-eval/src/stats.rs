//! Small numerical helpers: normal and Student-t quantiles, midranks, sample statistics and
//! percentiles. Written from the textbook definitions; checked against scipy and numpy in the
//! integration tests.

use crate::error::{Error, Result};

/// Checks that a confidence level lies strictly between 0 and 1.
pub(crate) fn check_level(level: f64) -> Result<()> {
    if level.is_finite() && level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "confidence level",
            value: level.to_string(),
            expected: "a number strictly between 0 and 1, e.g. 0.95",
        })
    }
}

/// Complementary error function, accurate to about 1e-15 relative.
///
/// Below 2.5 it uses the all-positive series `erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^k x^(2k+1) /
/// (1*3*...*(2k+1))`, which has no cancellation; above, the continued fraction
/// `erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))`.
pub(crate) fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    let two_over_sqrt_pi = std::f64::consts::FRAC_2_SQRT_PI;
    if x < 2.5 {
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        let mut k = 0.0;
        loop {
            k += 1.0;
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
        }
        1.0 - two_over_sqrt_pi * (-x2).exp() * sum
    } else {
        // Modified Lentz evaluation of x + a1/(x + a2/(x + ...)) with a_k = k/2.
        let tiny = 1e-300;
        let mut f = x;
        let mut c = x;
        let mut d = 0.0;
        for k in 1..5000 {
            let a = k as f64 / 2.0;
            d = x + a * d;
            if d.abs() < tiny {
                d = tiny;
            }
            c = x + a / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        0.5 * two_over_sqrt_pi * (-x * x).exp() / f
    }
}

/// Standard normal cumulative distribution function.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile (inverse CDF) for `p` in (0, 1), by bisection on [`normal_cdf`]
/// refined with Newton steps.
pub fn normal_ppf(p: f64) -> f64 {
    if p.is_nan() || p <= 0.0 || p >= 1.0 {
        return if p == 0.0 {
            f64::NEG_INFINITY
        } else if p == 1.0 {
            f64::INFINITY
        } else {
            f64::NAN
        };
    }
    // Work in the lower tail, where the CDF has full relative precision.
    if p > 0.5 {
        return -normal_ppf(1.0 - p);
    }
    let (mut lo, mut hi) = (-40.0_f64, 0.0_f64);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut x = 0.5 * (lo + hi);
    for _ in 0..3 {
        let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        if pdf > 0.0 {
            x -= (normal_cdf(x) - p) / pdf;
        }
    }
    x
}

/// Student-t cumulative distribution function with integer degrees of freedom `df >= 1`.
///
/// Uses the finite series for `P(|T| <= t)` in terms of `theta = atan(t / sqrt(df))`
/// (Abramowitz and Stegun 26.7.3 and 26.7.4), which is exact for integer `df`.
pub(crate) fn student_t_cdf(t: f64, df: usize) -> f64 {
    if t.is_nan() || df == 0 {
        return f64::NAN;
    }
    if t < 0.0 {
        return 1.0 - student_t_cdf(-t, df);
    }
    let nu = df as f64;
    let theta = (t / nu.sqrt()).atan();
    let (s, c) = theta.sin_cos();
    let c2 = c * c;
    let two_sided = if df % 2 == 1 {
        // 2/pi (theta + sin cos (1 + 2/3 c^2 + 2*4/(3*5) c^4 + ... up to c^(df-3)))
        let mut sum = 0.0;
        if df > 1 {
            let mut term = 1.0;
            sum = 1.0;
            let mut k = 1;
            while 2 * k + 1 < df {
                term *= (2 * k) as f64 / (2 * k + 1) as f64 * c2;
                sum += term;
                k += 1;
            }
        }
        std::f64::consts::FRAC_2_PI * (theta + s * c * sum)
    } else {
        // sin (1 + 1/2 c^2 + 1*3/(2*4) c^4 + ... up to c^(df-2))
        let mut term = 1.0;
        let mut sum = 1.0;
        let mut k = 1;
        while 2 * k < df {
            term *= (2 * k - 1) as f64 / (2 * k) as f64 * c2;
            sum += term;
            k += 1;
        }
        s * sum
    };
    0.5 + 0.5 * two_sided
}

/// Student-t quantile for `p` in (0, 1) and integer `df >= 1`, by bisection on
/// [`student_t_cdf`].
pub fn student_t_ppf(p: f64, df: usize) -> f64 {
    if p.is_nan() || p <= 0.0 || p >= 1.0 || df == 0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -student_t_ppf(1.0 - p, df);
    }
    let mut hi = 1.0;
    while student_t_cdf(hi, df) < p && hi < 1e300 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-15 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// 1-based midranks: tied values share the mean of the ranks they span.
/// The values must not be NaN (callers validate scores first).
pub(crate) fn midranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) hold ranks i+1..=j; their mean is (i + 1 + j) / 2.
        let rank = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = rank;
        }
        i = j;
    }
    ranks
}

/// Arithmetic mean (NaN for an empty slice; callers check lengths).
pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample variance with `n - 1` in the denominator (NaN below two values; callers check).
pub(crate) fn sample_variance(values: &[f64]) -> f64 {
    let m = mean(values);
    values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (values.len() as f64 - 1.0)
}

/// Percentile of already sorted values with linear interpolation between order statistics
/// (numpy's default `linear` method): position `q * (n - 1)`.
pub(crate) fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = q * (n - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midranks_average_ties() {
        // Hand calculation: sorted 1, 2, 2, 2, 5 -> ranks 1, 3, 3, 3, 5.
        assert_eq!(
            midranks(&[2.0, 5.0, 2.0, 1.0, 2.0]),
            vec![3.0, 5.0, 3.0, 1.0, 3.0]
        );
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], 25) == 1.75 and 90 -> 3.7 (hand: 0.9 * 3 = 2.7).
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile_sorted(&v, 0.25) - 1.75).abs() < 1e-12);
        assert!((percentile_sorted(&v, 0.9) - 3.7).abs() < 1e-12);
    }

    #[test]
    fn known_quantiles() {
        // Textbook values: z_0.975 = 1.959964, t_0.975 with 4 df = 2.776445.
        assert!((normal_ppf(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((student_t_ppf(0.975, 4) - 2.776_445_105_197_8).abs() < 1e-9);
        // With 1 df the t distribution is Cauchy: quantile tan(pi (p - 1/2)).
        let p: f64 = 0.9;
        let cauchy = (std::f64::consts::PI * (p - 0.5)).tan();
        assert!((student_t_ppf(p, 1) - cauchy).abs() < 1e-10);
    }

    #[test]
    fn bad_level_is_an_error() {
        assert!(check_level(1.0).is_err());
        assert!(check_level(f64::NAN).is_err());
        assert!(check_level(0.95).is_ok());
    }
}

//! Depthwise convolution built from candle tensor ops alone, for devices other than the CPU
//! (CUDA): the off-CPU path of [`super::depthwise::depthwise_conv2d`].
//!
//! candle's grouped `conv2d` runs one convolution per channel and concatenates the results, so a
//! depthwise layer of 960 channels costs thousands of kernel launches on a GPU. Here the output is
//! the sum over the `kh * kw` taps of a shifted view of the padded input times that tap's weight
//! (one value per channel, broadcast over the plane): about `2 * kh * kw` element-wise kernels
//! per layer whatever the channel count. A stride `s > 1` first splits the padded input into its
//! `s * s` phases (rows and columns of equal index mod `s`), so every tap is a plain window of one
//! phase. Device-generic, so the unit tests check it on the CPU.

use candle_core::{D, Tensor};

use super::ConvParams;

/// Depthwise convolution of `x` `[N,C,H,W]` with `weight` `[C,1,kh,kw]` and `bias` `[C]`, zero
/// padding `p.pad` (top, bottom, left, right), stride `p.stride`, then `p.act`; any device.
pub fn depthwise_conv2d_taps(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    p: ConvParams,
) -> candle_core::Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (wc, one, kh, kw) = weight.dims4()?;
    if wc != c || one != 1 || bias.dims1()? != c {
        candle_core::bail!(
            "depthwise: input {:?}, weight {:?}, bias {:?} do not match",
            x.dims(),
            weight.dims(),
            bias.dims()
        );
    }
    let s = p.stride;
    let [t, b, l, r] = p.pad;
    if s == 0 || h + t + b < kh || w + l + r < kw {
        candle_core::bail!(
            "depthwise: kernel {kh}x{kw} stride {s} does not fit the padded input {}x{}",
            h + t + b,
            w + l + r
        );
    }
    let oh = (h + t + b - kh) / s + 1;
    let ow = (w + l + r - kw) / s + 1;
    // Phase rows (columns) needed: tap `i` reads rows `i / s ..` of phase `i % s`, `oh` of them.
    let hq = (kh - 1) / s + oh;
    let wq = (kw - 1) / s + ow;
    let xp = fit(x, 2, t, s * hq)?;
    let xp = fit(&xp, 3, l, s * wq)?;
    // phases[a * s + b]: padded rows a, a + s, ...; columns b, b + s, ... as [N, C, hq, wq].
    let phases: Vec<Tensor> = if s == 1 {
        vec![xp]
    } else {
        let xr = xp.reshape((n, c, hq, s, wq, s))?;
        let mut v = Vec::with_capacity(s * s);
        for a in 0..s {
            for bb in 0..s {
                v.push(
                    xr.narrow(3, a, 1)?
                        .narrow(5, bb, 1)?
                        .squeeze(5)?
                        .squeeze(3)?
                        .contiguous()?,
                );
            }
        }
        v
    };
    // Tap weights as [kh * kw, C]: row `i * kw + j` is tap (i, j) for every channel.
    let taps = weight.reshape((c, kh * kw))?.t()?.contiguous()?;
    let mut acc: Option<Tensor> = None;
    for i in 0..kh {
        for j in 0..kw {
            let view = phases[(i % s) * s + j % s]
                .narrow(2, i / s, oh)?
                .narrow(3, j / s, ow)?;
            let wij = taps.get(i * kw + j)?.reshape((1, c, 1, 1))?;
            let term = view.broadcast_mul(&wij)?;
            acc = Some(match acc {
                None => term,
                Some(a) => (a + term)?,
            });
        }
    }
    let acc = acc.ok_or_else(|| candle_core::Error::Msg("depthwise: empty kernel".into()))?;
    let y = acc.broadcast_add(&bias.reshape((1, c, 1, 1))?)?;
    p.act.apply(&y)
}

/// Along `dim`, `before` zero rows, then the input, then zero rows or a cut so that `total` rows
/// remain.
fn fit(x: &Tensor, dim: usize, before: usize, total: usize) -> candle_core::Result<Tensor> {
    let len = x.dim(dim)? + before;
    let x = x.pad_with_zeros(D::Minus(4 - dim), before, total.saturating_sub(len))?;
    if len > total {
        x.narrow(dim, 0, total)
    } else {
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Activation;
    use crate::test_util::{max_abs_diff, random, reference_conv};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn matches_grouped_conv_on_random_inputs() {
        let mut rng = ChaCha8Rng::seed_from_u64(7_2024);
        // (n, c, h, w, k, stride, pad, act): symmetric and TF-SAME (extra bottom/right) padding,
        // strides 1 to 3, odd and even sizes, the 3/5/7 kernels of the four backbones.
        type Case = (
            usize,
            usize,
            usize,
            usize,
            usize,
            usize,
            [usize; 4],
            Activation,
        );
        let cases: &[Case] = &[
            (2, 5, 9, 11, 3, 1, [1, 1, 1, 1], Activation::None),
            (1, 4, 8, 8, 3, 2, [0, 1, 0, 1], Activation::Relu6),
            (3, 3, 7, 10, 5, 2, [2, 2, 2, 2], Activation::Relu),
            (2, 6, 11, 11, 7, 2, [2, 3, 2, 3], Activation::None),
            (1, 2, 6, 5, 3, 1, [0, 0, 0, 0], Activation::Relu),
            (2, 3, 13, 13, 5, 1, [2, 2, 2, 2], Activation::Relu6),
            (1, 2, 5, 5, 3, 3, [1, 0, 2, 1], Activation::None),
            (1, 3, 7, 7, 3, 2, [0, 0, 0, 0], Activation::None),
            (1, 2, 4, 9, 7, 1, [3, 3, 3, 3], Activation::Relu),
        ];
        for &(n, c, h, w, k, stride, pad, act) in cases {
            let x = random(&[n, c, h, w], &mut rng);
            let wt = random(&[c, 1, k, k], &mut rng);
            let b = random(&[c], &mut rng);
            let p = ConvParams { stride, pad, act };
            let got = depthwise_conv2d_taps(&x, &wt, &b, p).unwrap();
            let want = reference_conv(&x, &wt, &b, stride, pad, act, c);
            assert_eq!(
                got.dims(),
                want.dims(),
                "case {n} {c} {h} {w} k{k} s{stride} {pad:?}"
            );
            let d = max_abs_diff(&got, &want);
            assert!(
                d < 1e-5,
                "case {n} {c} {h} {w} k{k} s{stride} {pad:?}: max diff {d}"
            );
        }
    }

    #[test]
    fn rejects_mismatched_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x = random(&[1, 4, 6, 6], &mut rng);
        let p = ConvParams {
            stride: 1,
            pad: [0; 4],
            act: Activation::None,
        };
        let wt = random(&[3, 1, 3, 3], &mut rng);
        let b = random(&[4], &mut rng);
        let e = depthwise_conv2d_taps(&x, &wt, &b, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("do not match"), "{e}");
        let wt = random(&[4, 1, 7, 7], &mut rng);
        let e = depthwise_conv2d_taps(&x, &wt, &b, p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not fit"), "{e}");
    }
}

//! The bf16 path ([`Precision::Bf16`]) against timm in f32: every port's pooled features (timm
//! flavor, native size, the formula weights of `timm_weights`, batch 2) and every port's dense
//! map (VGG16 at 512 px, the others at 256), on the fastest kernel this CPU runs and, for
//! MobileNetV2, on the portable `emulated` one; then the kernel choice itself.
//!
//! The tolerance. bf16 keeps 8 significant bits, so rounding a weight or an activation moves it
//! by a relative u = 2^-8 at most, and a product by 2u. Per layer the worst case, (2u + u²) Σ|w||x|
//! plus f32 accumulation, is what the kernels' unit tests assert. Through a whole network the
//! worst case is far too loose to test anything, so the check here is statistical: rounding
//! errors are zero-mean and independent, a product's relative error has RMS <= √2 · u/√3, so a
//! layer's output error has RMS about 0.82u of its output's (the sum's error grows as
//! sqrt(Σ (w x)²), as the sum itself does with random-sign weights), and the errors of L layers
//! in sequence add in quadrature: relative L2 error ≈ 0.82u √L. The tests allow 2u √L (L = the
//! dense convolutions on the network's longest path), a margin of about 2.4 for the Winograd
//! transforms (which round transformed operands whose magnitudes add up to a few times the
//! direct ones) and for layers that amplify. Beside it, each feature vector must keep a cosine
//! similarity above 0.999 with timm's.

use candle_core::{Device, Tensor};
use mias_backbones::{BackboneKind, Bf16Kernel, DenseLayer, Flavor, Precision, models};

use crate::timm_weights::{expected_features, formula_input, formula_var_builder, manifest};

/// bf16's unit roundoff.
const U: f64 = 1.0 / 256.0;

/// The least cosine similarity of a feature vector with timm's.
const MIN_COSINE: f64 = 0.999;

/// Dense convolutions on the longest path of each network (the `L` of the module's bound).
fn depth(kind: BackboneKind) -> usize {
    match kind {
        // 13 3x3 convolutions.
        BackboneKind::Vgg16 => 13,
        // conv1, conv2, blocks 1-3 and 12 with 2 separable convolutions, 4-11 with 3, conv3,
        // conv4 (each separable convolution's pointwise part is one dense convolution).
        BackboneKind::Xception => 2 + 4 * 2 + 8 * 3 + 2,
        // stem, the first block's pointwise, 16 blocks of expand + project, head.
        BackboneKind::MobileNetV2 => 1 + 1 + 16 * 2 + 1,
        // stem (conv0 and 2 reduction cells of 2 separable pairs) then 18 normal and 2
        // reduction cells, each a 1x1 then a branch of 2 separable convolutions.
        BackboneKind::NasNetLarge => 1 + 2 * 3 + 20 * 3,
    }
}

/// How `ours` `[N, D]` differs from `want`, row by row and as a whole.
struct Comparison {
    /// Relative L2 error over all values.
    rel: f64,
    /// The least cosine similarity of a row with its counterpart.
    cosine: f64,
    /// The largest relative L2 error of a row against its counterpart.
    worst_row: f64,
}

fn compare(ours: &Tensor, want: &Tensor) -> Comparison {
    assert_eq!(ours.dims(), want.dims());
    let rows = ours.dim(0).expect("rows");
    let ours: Vec<f64> = to_vec(ours);
    let want: Vec<f64> = to_vec(want);
    let (mut err, mut norm) = (0f64, 0f64);
    for (a, b) in ours.iter().zip(&want) {
        err += (a - b) * (a - b);
        norm += b * b;
    }
    let d = ours.len() / rows;
    let (mut cosine, mut worst_row) = (f64::INFINITY, 0f64);
    for r in 0..rows {
        let (a, b) = (&ours[r * d..(r + 1) * d], &want[r * d..(r + 1) * d]);
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
        let row_err: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        cosine = cosine.min(dot / (na * nb));
        worst_row = worst_row.max(row_err.sqrt() / nb);
    }
    Comparison {
        rel: (err / norm).sqrt(),
        cosine,
        worst_row,
    }
}

fn to_vec(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32 tensor")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Builds `kind` in bf16 on `kernel`, runs timm's formula input and checks the features.
fn assert_bf16_parity(kind: BackboneKind, timm_name: &str, kernel: Bf16Kernel) {
    let dev = Device::Cpu;
    let m = manifest();
    let side = m.models[timm_name].input_side;
    let vb = formula_var_builder(timm_name, &dev);
    let bb = models::build_bf16_on(kind, Flavor::Timm, kernel, vb)
        .unwrap_or_else(|e| panic!("building {kind} in bf16 on {kernel}: {e}"));
    let x = formula_input(m.batch, side, &dev).expect("formula input");
    let ours = bb.features(&x).expect("forward");
    let want = expected_features(timm_name, None);
    let Comparison { rel, cosine, .. } = compare(&ours, &want);
    let tol = 2.0 * U * (depth(kind) as f64).sqrt();
    eprintln!(
        "bf16 parity {kind} ({kernel}): relative L2 error {rel:.3e} (allowed {tol:.3e}), least cosine {cosine:.6}"
    );
    assert!(
        rel <= tol,
        "{kind} in bf16 ({kernel}): relative L2 error {rel:.3e} > {tol:.3e}"
    );
    assert!(
        cosine >= MIN_COSINE,
        "{kind} in bf16 ({kernel}): cosine similarity {cosine:.6} < {MIN_COSINE}"
    );
}

#[test]
fn vgg16_bf16_matches_timm() {
    assert_bf16_parity(BackboneKind::Vgg16, "vgg16", Bf16Kernel::best());
}

#[test]
fn xception_bf16_matches_timm() {
    assert_bf16_parity(
        BackboneKind::Xception,
        "legacy_xception",
        Bf16Kernel::best(),
    );
}

#[test]
fn mobilenetv2_bf16_matches_timm() {
    assert_bf16_parity(
        BackboneKind::MobileNetV2,
        "mobilenetv2_100",
        Bf16Kernel::best(),
    );
}

#[test]
fn mobilenetv2_bf16_matches_timm_on_the_emulated_kernel() {
    let kind = BackboneKind::MobileNetV2;
    assert_bf16_parity(kind, "mobilenetv2_100", Bf16Kernel::Emulated);
}

#[test]
fn nasnetlarge_bf16_matches_timm() {
    assert_bf16_parity(
        BackboneKind::NasNetLarge,
        "nasnetalarge",
        Bf16Kernel::best(),
    );
}

/// `kind`'s dense map (`last`) of the formula image at `side` px in bf16 against the f32 one
/// (itself held to 1e-4 of timm by `dense_maps`), every cell's vector a row: the relative L2
/// error over all cells, and the worst cell's own, within the module's 2u√L. A cell carries the
/// per-value error undiluted (pooling averages it over the cells, so the pooled features'
/// figures above are smaller by up to √cells); so the fixed cosine floor of the pooled tests
/// does not apply to a cell, whose cosine the same bound puts at 1 - (2u√L)²/2 or above (0.99893
/// for MobileNetV2's 35 layers; its worst cell here measured 0.99898).
fn assert_dense_bf16(kind: BackboneKind, timm_name: &str, side: usize) {
    let dev = Device::Cpu;
    let f32_net = models::build(kind, Flavor::Timm, formula_var_builder(timm_name, &dev))
        .unwrap_or_else(|e| panic!("{kind} f32: {e}"));
    let bf16_net = models::build_at(
        kind,
        Flavor::Timm,
        Precision::Bf16,
        formula_var_builder(timm_name, &dev),
    )
    .unwrap_or_else(|e| panic!("{kind} bf16: {e}"));
    let x = formula_input(1, side, &dev).expect("input");
    let want = f32_net.dense_map(&x, DenseLayer::Last).expect("f32 map");
    let ours = bf16_net.dense_map(&x, DenseLayer::Last).expect("bf16 map");
    let grid = side / kind.dense_stride(DenseLayer::Last);
    assert_eq!(
        ours.dims(),
        &[1, kind.dense_channels(DenseLayer::Last), grid, grid]
    );
    // One "row" per cell: the C-long vector of each of the grid x grid cells.
    let cells = |t: &Tensor| {
        t.squeeze(0)
            .and_then(|t| t.flatten_from(1))
            .and_then(|t| t.t())
            .expect("cells")
    };
    let Comparison {
        rel,
        cosine,
        worst_row: worst,
    } = compare(&cells(&ours), &cells(&want));
    let tol = 2.0 * U * (depth(kind) as f64).sqrt();
    eprintln!(
        "bf16 dense map {kind} {side} ({grid} x {grid} cells): relative L2 error {rel:.3e}, \
         worst cell {worst:.3e} (bound {tol:.3e}), least cell cosine {cosine:.6}"
    );
    assert!(
        rel <= tol,
        "{kind}: relative L2 error {rel:.3e} > {tol:.3e}"
    );
    assert!(
        worst <= tol,
        "{kind}: worst cell's relative L2 error {worst:.3e} > {tol:.3e}"
    );
}

/// VGG16's at 512 px: the lesion method's input.
#[test]
fn vgg16_dense_map_bf16_matches_f32() {
    assert_dense_bf16(BackboneKind::Vgg16, "vgg16", 512);
}

/// MobileNetV2's at 256 px (8 x 8 cells), the lesion method's second backbone.
#[test]
fn mobilenetv2_dense_map_bf16_matches_f32() {
    assert_dense_bf16(BackboneKind::MobileNetV2, "mobilenetv2_100", 256);
}

#[test]
fn xception_dense_map_bf16_matches_f32() {
    assert_dense_bf16(BackboneKind::Xception, "legacy_xception", 256);
}

#[test]
fn nasnetlarge_dense_map_bf16_matches_f32() {
    assert_dense_bf16(BackboneKind::NasNetLarge, "nasnetalarge", 256);
}

/// The CPU's best bf16 instructions, read from CPUID here (not through the code under test):
/// AVX512-BF16 is leaf 7 subleaf 1 EAX bit 5, with AVX-512 F and BW (leaf 7 subleaf 0 EBX bits
/// 16 and 30) and the OS saving the ZMM state (XCR0 bits 1, 2, 5, 6 and 7).
#[cfg(target_arch = "x86_64")]
fn cpu_has_avx512_bf16() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};
    // Leaf 7 is read only when the CPU reports it, XCR0 only when the OS enabled XGETBV.
    if __cpuid(0).eax < 7 || __cpuid(1).ecx >> 27 & 1 == 0 {
        return false;
    }
    let l7 = __cpuid_count(7, 0);
    let l71 = __cpuid_count(7, 1);
    // SAFETY: XGETBV is available: CPUID says the OS enabled it (OSXSAVE, leaf 1 ECX bit 27).
    let xcr0 = unsafe { _xgetbv(0) };
    let zmm_state = xcr0 & 0xe6 == 0xe6;
    (l7.ebx >> 16 & 1 == 1) && (l7.ebx >> 30 & 1 == 1) && (l71.eax >> 5 & 1 == 1) && zmm_state
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_avx512_bf16() -> bool {
    false
}

/// AMX-BF16 and AMX-TILE: leaf 7 subleaf 0 EDX bits 22 and 24.
#[cfg(target_arch = "x86_64")]
fn cpu_has_amx_bf16() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    __cpuid(0).eax >= 7 && __cpuid_count(7, 0).edx >> 22 & 0b101 == 0b101
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_amx_bf16() -> bool {
    false
}

#[test]
fn the_chosen_kernel_is_the_best_this_cpu_offers() {
    let want = if cpu_has_avx512_bf16() {
        Bf16Kernel::Avx512Bf16
    } else {
        Bf16Kernel::Emulated
    };
    assert_eq!(Bf16Kernel::best(), want);
    assert_eq!(Bf16Kernel::select_from(None), Ok(want));
    assert_eq!(Bf16Kernel::select_from(Some("")), Ok(want));
    if cpu_has_amx_bf16() {
        eprintln!(
            "NOTE: this CPU has AMX-BF16 (amx_usable: {}), which no kernel of this build uses yet",
            mias_backbones::amx_usable()
        );
    } else {
        assert!(!mias_backbones::amx_usable(), "no AMX in CPUID, yet usable");
    }
}

#[test]
fn the_environment_variable_forces_each_kernel() {
    assert_eq!(
        Bf16Kernel::select_from(Some("emulated")),
        Ok(Bf16Kernel::Emulated)
    );
    let forced = Bf16Kernel::select_from(Some("avx512bf16"));
    if cpu_has_avx512_bf16() {
        assert_eq!(forced, Ok(Bf16Kernel::Avx512Bf16));
    } else {
        let err = forced.unwrap_err();
        assert!(
            err.contains("avx512bf16") && err.contains("cannot run"),
            "{err}"
        );
    }
    let err = Bf16Kernel::select_from(Some("amx")).unwrap_err();
    assert!(err.contains("no AMX kernel"), "{err}");
    let err = Bf16Kernel::select_from(Some("fast")).unwrap_err();
    assert!(err.contains("`fast`"), "{err}");
    // And a backbone built with a kernel the CPU lacks is an error, not a silent fallback.
    if !cpu_has_avx512_bf16() {
        let vb = mias_backbones::random_var_builder(0, &Device::Cpu);
        let err = models::build_bf16_on(
            BackboneKind::MobileNetV2,
            Flavor::Timm,
            Bf16Kernel::Avx512Bf16,
            vb,
        )
        .err()
        .expect("an error");
        assert!(err.to_string().contains("cannot run"), "{err}");
    }
}

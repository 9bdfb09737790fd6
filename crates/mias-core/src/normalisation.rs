//! How `0..=255` RGB pixel values become network inputs: Keras's `preprocess_input` modes,
//! with the channel order of the weights mias ships. One type for the preprocessing of
//! mias-data and the input specification of mias-backbones.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// How pixel values become network inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Normalisation {
    /// Keras `caffe`: RGB in `0..=255` minus the ImageNet mean `[123.68, 116.779, 103.939]`,
    /// no scaling (channel order RGB: VGG16's first layer was flipped from BGR).
    Caffe,
    /// Keras `tf`: `x / 127.5 - 1`.
    Tf,
    /// Keras `torch` / timm: `(x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]`.
    Torch,
}

impl Normalisation {
    /// Every mode, in declaration order.
    pub const ALL: [Normalisation; 3] = [
        Normalisation::Caffe,
        Normalisation::Tf,
        Normalisation::Torch,
    ];

    /// The name Keras gives this mode, used in configs and on the command line (`caffe`,
    /// `tf`, `torch`).
    pub fn name(self) -> &'static str {
        match self {
            Normalisation::Caffe => "caffe",
            Normalisation::Tf => "tf",
            Normalisation::Torch => "torch",
        }
    }

    /// Per-channel `(scale, offset)` so that `value = pixel * scale + offset` for R, G, B
    /// (what the preprocessing applies, in `f32`).
    pub fn affine(self) -> [(f32, f32); 3] {
        match self {
            Normalisation::Caffe => [(1.0, -123.68), (1.0, -116.779), (1.0, -103.939)],
            Normalisation::Tf => [(1.0 / 127.5, -1.0); 3],
            Normalisation::Torch => {
                let mean = [0.485f32, 0.456, 0.406];
                let std = [0.229f32, 0.224, 0.225];
                [0, 1, 2].map(|c| (1.0 / (255.0 * std[c]), -mean[c] / std[c]))
            }
        }
    }

    /// Per-channel `(mean, std)` on the `0..=255` scale: input = `(x - mean) / std`.
    pub fn mean_std(self) -> ([f32; 3], [f32; 3]) {
        match self {
            Normalisation::Caffe => ([123.68, 116.779, 103.939], [1.0; 3]),
            Normalisation::Tf => ([127.5; 3], [127.5; 3]),
            Normalisation::Torch => (
                [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
                [0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0],
            ),
        }
    }
}

impl fmt::Display for Normalisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Normalisation {
    type Err = Error;

    /// Parses a name of [`Normalisation::name`] (exactly, lowercase).
    fn from_str(s: &str) -> Result<Self, Error> {
        Normalisation::ALL
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| Error::UnknownName {
                what: "normalisation",
                value: s.to_string(),
                expected: "caffe, tf or torch",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for n in Normalisation::ALL {
            assert_eq!(n.name().parse::<Normalisation>().unwrap(), n);
            assert_eq!(n.to_string(), n.name());
        }
        let err = "keras".parse::<Normalisation>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown normalisation `keras` (expected caffe, tf or torch)"
        );
        assert!("TF".parse::<Normalisation>().is_err());
    }

    #[test]
    fn affine_and_mean_std_describe_the_same_map() {
        // pixel * scale + offset == (pixel - mean) / std, to f32 rounding, at 0 and 255.
        for n in Normalisation::ALL {
            let (mean, std) = n.mean_std();
            for (c, (scale, offset)) in n.affine().into_iter().enumerate() {
                for x in [0.0f32, 255.0] {
                    let a = x * scale + offset;
                    let b = (x - mean[c]) / std[c];
                    assert!((a - b).abs() < 1e-5, "{n} channel {c} at {x}: {a} vs {b}");
                }
            }
        }
        // Keras's modes by hand: caffe 0 -> -123.68 (R); tf 255 -> 1; torch 0 -> -0.485/0.229.
        assert_eq!(Normalisation::Caffe.affine()[0].1, -123.68);
        assert_eq!(255.0 * Normalisation::Tf.affine()[1].0 - 1.0, 1.0);
        assert!((Normalisation::Torch.affine()[0].1 + 0.485 / 0.229).abs() < 1e-6);
    }
}

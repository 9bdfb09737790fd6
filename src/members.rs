//! The ensemble's members: which weight file each backbone runs with, in which flavor, and why
//! a backbone that cannot be had is left out (never replaced by random weights).
//!
//! A weights directory is searched first for the files this project knows (the Keras-derived
//! files of `../shared/weights`, whose checksums are pinned here, and `<name>.timm.safetensors`
//! for a local copy of the Hub's timm weights); then the pinned public source of the timm
//! weights (the Hugging Face Hub, or timm's GitHub release for Xception) through the local
//! caches, downloading unless offline.
//!
//! Tables name a [`Model`]: one backbone's head, or the ensemble of all of them.

use std::fmt;
use std::path::{Path, PathBuf};

use mias_backbones::weights::FetchOptions;
use mias_backbones::{BackboneKind, Flavor, Precision, Provenance, WeightsSource};
use serde::{Deserialize, Serialize};

/// A weight file this project knows by name, with the flavor it implies and, for the files of
/// `../shared/weights`, its pinned SHA-256.
#[derive(Clone, Copy, Debug)]
pub struct KnownFile {
    /// The backbone.
    pub kind: BackboneKind,
    /// File name inside a weights directory.
    pub name: &'static str,
    /// The forward configuration the file needs.
    pub flavor: Flavor,
    /// Expected SHA-256, when the file is a fixed published one.
    pub sha256: Option<&'static str>,
}

/// The files looked for in a weights directory, in order of preference (the paper used Keras,
/// so Keras-derived weights come first).
pub const KNOWN_FILES: [KnownFile; 9] = [
    KnownFile {
        kind: BackboneKind::Vgg16,
        name: "vgg16.keras.safetensors",
        flavor: Flavor::Keras,
        sha256: Some("ffb6ec7d13a94922493d501cbebf2711eaa403509614fbc819cb18ead907c0c9"),
    },
    KnownFile {
        kind: BackboneKind::Vgg16,
        name: "vgg16.timm.safetensors",
        flavor: Flavor::Timm,
        sha256: None,
    },
    KnownFile {
        kind: BackboneKind::Xception,
        name: "xception.keras.safetensors",
        flavor: Flavor::Keras,
        sha256: Some("80653e24331e8c97cf2d23a4e8a514b2143fc5c631a3ed8da0b82c2f8e013b74"),
    },
    KnownFile {
        kind: BackboneKind::Xception,
        name: "xception.timm.safetensors",
        flavor: Flavor::Timm,
        sha256: None,
    },
    KnownFile {
        kind: BackboneKind::MobileNetV2,
        name: "mobilenetv2.coral.safetensors",
        flavor: Flavor::Keras,
        sha256: Some("2632d553396af8607454c53965575c1fca7e6deb4df837c88faf0ddebb994c6e"),
    },
    KnownFile {
        kind: BackboneKind::MobileNetV2,
        name: "mobilenetv2.keras.safetensors",
        flavor: Flavor::Keras,
        sha256: None,
    },
    KnownFile {
        kind: BackboneKind::MobileNetV2,
        name: "mobilenetv2.timm.safetensors",
        flavor: Flavor::Timm,
        sha256: None,
    },
    KnownFile {
        kind: BackboneKind::NasNetLarge,
        name: "nasnetlarge.keras.safetensors",
        flavor: Flavor::Keras,
        sha256: None,
    },
    KnownFile {
        kind: BackboneKind::NasNetLarge,
        name: "nasnetlarge.timm.safetensors",
        flavor: Flavor::Timm,
        sha256: None,
    },
];

/// A backbone that will run: its weights, found and checksummed, and its flavor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The backbone.
    pub kind: BackboneKind,
    /// The forward configuration its weights need.
    pub flavor: Flavor,
    /// Where the weights are (path, SHA-256, source).
    pub provenance: Provenance,
    /// The arithmetic of its dense convolutions (`f32` unless `--precision bf16`).
    pub precision: Precision,
}

/// What a row of a table is about: one backbone's model, or the ensemble of them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    /// The model built on one backbone.
    Backbone(BackboneKind),
    /// The average of every backbone's model.
    Ensemble,
}

impl Model {
    /// The name in tables and figures: `VGG16`, ..., `Ensemble`.
    pub fn display_name(self) -> &'static str {
        match self {
            Model::Backbone(kind) => kind.display_name(),
            Model::Ensemble => "Ensemble",
        }
    }

    /// The name in column and file names: `vgg16`, ..., `ensemble`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Backbone(kind) => kind.name(),
            Model::Ensemble => "ensemble",
        }
    }

    /// The members in order, then the ensemble: the rows of a table.
    pub fn all(members: &[BackboneKind]) -> Vec<Model> {
        members
            .iter()
            .map(|&kind| Model::Backbone(kind))
            .chain([Model::Ensemble])
            .collect()
    }
}

/// A backbone left out, and everything that was tried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRun {
    /// The backbone.
    #[serde(with = "crate::by_name")]
    pub backbone: BackboneKind,
    /// Why, with the places looked at and how to provide the weights.
    pub reason: String,
}

impl fmt::Display for NotRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.backbone, self.reason)
    }
}

/// Finds `kind`'s weights: the known files in `weights_dir` (if given), then the pinned public
/// source through the caches of `fetch`. A known file whose checksum differs is an error, not a
/// fallback to the next source.
pub fn resolve(
    kind: BackboneKind,
    weights_dir: Option<&Path>,
    fetch: &FetchOptions,
) -> Result<Member, NotRun> {
    let not_run = |reason: String| NotRun {
        backbone: kind,
        reason,
    };
    let mut tried = Vec::new();
    if let Some(dir) = weights_dir {
        for known in KNOWN_FILES.iter().filter(|k| k.kind == kind) {
            let path = dir.join(known.name);
            if !path.is_file() {
                tried.push(path.display().to_string());
                continue;
            }
            let provenance = WeightsSource::File(path.clone())
                .resolve_with(kind, fetch)
                .map_err(|e| not_run(e.to_string()))?;
            if let Some(expected) = known.sha256
                && provenance.sha256 != expected
            {
                return Err(not_run(format!(
                    "{} has sha256 {}, expected {expected} (a damaged or different file; \
                     replace it or remove it)",
                    path.display(),
                    provenance.sha256
                )));
            }
            return Ok(Member {
                kind,
                flavor: known.flavor,
                provenance,
                precision: Precision::F32,
            });
        }
    }
    let public = WeightsSource::pinned(kind);
    match public.resolve_with(kind, fetch) {
        Ok(provenance) => Ok(Member {
            kind,
            flavor: Flavor::Timm,
            provenance,
            precision: Precision::F32,
        }),
        Err(e) => {
            let looked = if tried.is_empty() {
                "no weights directory given".to_string()
            } else {
                format!("no {}", tried.join(" or "))
            };
            let why = match e {
                mias_backbones::Error::WeightsUnavailable { reason, .. } => reason,
                other => other.to_string(),
            };
            let file_hint = KNOWN_FILES
                .iter()
                .find(|k| k.kind == kind)
                .map(|k| k.name)
                .unwrap_or_default();
            Err(not_run(format!(
                "{looked}, and the public source {} is not available ({why}); put {file_hint} \
                 in the directory given to --weights-dir, or run once with network access",
                public.describe()
            )))
        }
    }
}

/// Resolves each of `kinds` in order: the members that will run, and those left out.
pub fn resolve_all(
    kinds: &[BackboneKind],
    weights_dir: Option<&Path>,
    fetch: &FetchOptions,
) -> (Vec<Member>, Vec<NotRun>) {
    let mut members = Vec::new();
    let mut not_run = Vec::new();
    for &kind in kinds {
        match resolve(kind, weights_dir, fetch) {
            Ok(m) => members.push(m),
            Err(n) => not_run.push(n),
        }
    }
    (members, not_run)
}

/// Where weights are looked for when no `--weights-dir` is given: `data/weights` if it exists.
pub fn default_weights_dir() -> Option<PathBuf> {
    let dir = PathBuf::from("data/weights");
    dir.is_dir().then_some(dir)
}

/// The one rule by which a finished run's weights are found again (`predict`, for both
/// methods), as the member `kind` in the recorded `flavor`: the recorded path, then a file of the same name in `weights_dir`, then the known
/// files of `weights_dir` for `kind`; the first whose SHA-256 is the run's. The error lists
/// every place looked at.
pub fn locate_run_weights(
    kind: BackboneKind,
    flavor: Flavor,
    precision: Precision,
    recorded: &Path,
    sha256: &str,
    weights_dir: Option<&Path>,
) -> anyhow::Result<Member> {
    let mut candidates = vec![recorded.to_path_buf()];
    if let Some(dir) = weights_dir {
        if let Some(name) = recorded.file_name() {
            candidates.push(dir.join(name));
        }
        candidates.extend(
            KNOWN_FILES
                .iter()
                .filter(|k| k.kind == kind)
                .map(|k| dir.join(k.name)),
        );
    }
    candidates.dedup();
    for path in &candidates {
        if path.is_file() && mias_backbones::weights::sha256_file(path)? == sha256 {
            return Ok(Member {
                kind,
                flavor,
                provenance: Provenance {
                    path: path.clone(),
                    sha256: sha256.to_string(),
                    source: path.display().to_string(),
                },
                precision,
            });
        }
    }
    anyhow::bail!(
        "{kind}: no weight file with sha256 {sha256} (the run's weights) at {}; pass \
         --weights-dir with the directory that holds them",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline(root: &Path) -> FetchOptions {
        FetchOptions {
            hub_cache: root.join("hub"),
            url_cache: root.join("url"),
            offline: true,
        }
    }

    #[test]
    fn known_file_is_used_with_its_flavor_and_a_wrong_checksum_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let fetch = offline(tmp.path());
        // Any bytes will do for resolution: loading is not attempted here.
        std::fs::write(tmp.path().join("mobilenetv2.timm.safetensors"), b"x").unwrap();
        let m = resolve(BackboneKind::MobileNetV2, Some(tmp.path()), &fetch).unwrap();
        assert_eq!(m.flavor, Flavor::Timm);
        // sha256("x"), by `printf x | sha256sum`.
        assert_eq!(
            m.provenance.sha256,
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        // The Coral file is preferred, and its checksum is pinned.
        std::fs::write(tmp.path().join("mobilenetv2.coral.safetensors"), b"x").unwrap();
        let err = resolve(BackboneKind::MobileNetV2, Some(tmp.path()), &fetch).unwrap_err();
        assert!(
            err.reason.contains("expected 2632d553") && err.reason.contains("coral"),
            "{err}"
        );
    }

    #[test]
    fn missing_weights_say_where_they_were_looked_for() {
        let tmp = tempfile::tempdir().unwrap();
        let err = resolve(
            BackboneKind::NasNetLarge,
            Some(tmp.path()),
            &offline(tmp.path()),
        )
        .unwrap_err();
        assert_eq!(err.backbone, BackboneKind::NasNetLarge);
        for needle in [
            "nasnetlarge.keras.safetensors",
            "nasnetlarge.timm.safetensors",
            "hf://timm/nasnetalarge.tf_in1k",
            "--weights-dir",
        ] {
            assert!(err.reason.contains(needle), "{needle}: {err}");
        }
    }
}

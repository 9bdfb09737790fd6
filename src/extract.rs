//! Frozen-backbone features of (image, view) items through the feature cache: the view is
//! rebuilt from its seed (view 0 is the image itself), resized and normalised the backbone's
//! way, and the backbone runs only for items the cache does not hold. The backbone is loaded
//! on the first item that needs it, so a warm cache never touches the weights beyond their
//! checksum.

use std::collections::HashMap;

use anyhow::Context;
use candle_core::Device;
use mias_data::augment::Augment;
use mias_data::{Dataset, ImageId};
use rayon::prelude::*;

use crate::cache::{CODE_VERSION, CacheKey, Content, FeatureCache};
use crate::members::Member;
use crate::runner::{Pooling, Runner, preprocess_for};

/// The cache key of `member`'s features under these augmentation settings, seed and pooling,
/// of the working images of `dataset`.
pub fn cache_key(
    member: &Member,
    augment: &Augment,
    seed: u64,
    pooling: Pooling,
    dataset: &Dataset,
) -> anyhow::Result<CacheKey> {
    Ok(CacheKey {
        backbone: member.kind,
        weights_sha256: member.provenance.sha256.clone(),
        flavor: member.flavor,
        code: CODE_VERSION,
        precision: member.precision.name().to_string(),
        frame: dataset.working_frame().map(str::to_string),
        content: Content::Features {
            preprocess: preprocess_for(member)?,
            augment: augment.clone(),
            seed,
            pooling,
        },
    })
}

/// The length of `member`'s feature vector under `pooling`.
pub fn feature_len(member: &Member, pooling: Pooling) -> usize {
    let d = member.kind.feature_dim();
    match pooling {
        Pooling::Avg => d,
        Pooling::Flatten => d * member.kind.map_side() * member.kind.map_side(),
    }
}

/// Feature vectors by (image, view).
pub type Features = HashMap<(ImageId, u32), Vec<f32>>;

/// What one extraction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExtractStats {
    /// Items asked for.
    pub items: usize,
    /// Items the backbone had to compute (the rest came from the cache).
    pub computed: usize,
    /// Of those, items whose cache entry was damaged and has been replaced (left out of
    /// records when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replaced: usize,
    /// Seconds spent, reading the cache included.
    pub seconds: f64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Everything feature extraction needs besides the member and the items: the images, how
/// views are made, how maps become vectors, the cache, and where the backbone runs.
#[derive(Clone, Copy)]
pub struct Extractor<'a> {
    /// The dataset.
    pub dataset: &'a Dataset,
    /// Augmentation ranges of the views.
    pub augment: &'a Augment,
    /// Seed of the views.
    pub seed: u64,
    /// How the last feature map becomes a vector.
    pub pooling: Pooling,
    /// The feature cache.
    pub cache: &'a FeatureCache,
    /// Images per forward pass.
    pub batch: usize,
    /// Where the backbone runs.
    pub device: &'a Device,
}

/// Features of `items` for `member`, keyed by item: cached where present, computed in batches
/// of `ex.batch` otherwise. `progress(n)` is called as items complete.
pub fn extract(
    ex: &Extractor<'_>,
    member: &Member,
    items: &[(ImageId, u32)],
    progress: impl FnMut(usize),
) -> anyhow::Result<(Features, ExtractStats)> {
    let Extractor {
        dataset,
        augment,
        seed,
        pooling,
        cache,
        batch,
        device,
    } = *ex;
    let start = std::time::Instant::now();
    let key = cache_key(member, augment, seed, pooling, dataset)?;
    let dim = feature_len(member, pooling);
    let mut runner = Runner::new(member, device);
    let mut last: Option<(ImageId, image::GrayImage)> = None;
    let compute = |wanted: &[(ImageId, u32)]| -> anyhow::Result<Vec<Vec<f32>>> {
        // Items come sorted by image: decode each image once for all its views (the last one
        // of a batch is kept for the next batch, which may start with its other views).
        let mut decoded: Vec<(ImageId, image::GrayImage)> = Vec::new();
        // For each wanted item, its image's index in `decoded`.
        let mut source = Vec::with_capacity(wanted.len());
        for &(id, _) in wanted {
            if decoded.last().is_none_or(|(l, _)| *l != id) {
                let img = match last.take() {
                    Some((l, img)) if l == id => img,
                    _ => dataset
                        .image(id)
                        .with_context(|| format!("reading image {}", dataset.name(id)))?,
                };
                decoded.push((id, img));
            }
            source.push(decoded.len() - 1);
        }
        // The views of a batch on every core (each is a function of its image, id, view and
        // seed alone): one at a time, augmentation took about a tenth of the extraction.
        let views: Vec<image::GrayImage> = wanted
            .par_iter()
            .zip(&source)
            .map(|(&(id, view), &i)| augment.view(&decoded[i].1, id, view, seed))
            .collect();
        last = decoded.pop();
        runner.features(&views, pooling)
    };
    let got = cache.get_or_compute(&key, items, dim, batch, compute, progress)?;
    let stats = ExtractStats {
        items: items.len(),
        computed: got.computed,
        replaced: got.replaced,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((items.iter().copied().zip(got.vectors).collect(), stats))
}

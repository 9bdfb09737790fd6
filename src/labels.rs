//! Which labels an experiment learns and is judged by: the dataset's own, or, for a negative
//! control, the same labels moved between women by a seeded permutation.
//!
//! The paper method's heads read their targets from a [`Labels`] and nothing else, so the
//! control differs from the real run in the labels only: same splits, same features, same
//! head seeds.

use std::collections::BTreeMap;

use anyhow::anyhow;
use mias_data::split::{self, Item};
use mias_data::{ImageId, ImageRecord, Label, Labelling};
use serde::Serialize;

/// Where an experiment's labels come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "labels", rename_all = "lowercase")]
pub enum LabelSource {
    /// Each image's own label.
    Real,
    /// Labels permuted over women ([`split::permute_over_women`]) with this seed.
    Permuted {
        /// The permutation's seed.
        seed: u64,
    },
}

impl LabelSource {
    /// `real` or `permuted`: the `labels` column of metrics.csv.
    pub fn name(self) -> &'static str {
        match self {
            LabelSource::Real => "real",
            LabelSource::Permuted { .. } => "permuted",
        }
    }

    /// The permutation's seed, if any.
    pub fn seed(self) -> Option<u64> {
        match self {
            LabelSource::Real => None,
            LabelSource::Permuted { seed } => Some(seed),
        }
    }
}

/// The seed of the permutation control that every run of the paper method adds: derived from
/// the experiment's seed, so that it is fixed before the run and recorded with it.
pub fn control_seed(seed: u64) -> u64 {
    mias_core::rng::derived_seed(seed, "permutation-control", &[])
}

/// Every image's label (0 normal, 1 abnormal) as an experiment sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    source: LabelSource,
    by_image: BTreeMap<ImageId, u32>,
}

impl Labels {
    /// The labels of `source`: the records' own under `labelling`, or those of the images a
    /// permutation over women assigns (each image takes the label its source has under
    /// `labelling`).
    pub fn new(records: &[ImageRecord], labelling: Labelling, source: LabelSource) -> Labels {
        let own: BTreeMap<ImageId, u32> = records
            .iter()
            .map(|r| (r.id, u32::from(r.label(labelling) == Label::Abnormal)))
            .collect();
        let by_image = match source {
            LabelSource::Real => own,
            LabelSource::Permuted { seed } => split::permute_over_women(records, seed)
                .into_iter()
                .map(|(target, from)| (target, own[&from]))
                .collect(),
        };
        Labels { source, by_image }
    }

    /// Where these labels come from.
    pub fn source(&self) -> LabelSource {
        self.source
    }

    /// The label of every item, in order; an image without a label is an error naming it.
    pub fn of(&self, items: &[Item]) -> anyhow::Result<Vec<u32>> {
        items
            .iter()
            .map(|i| {
                self.by_image
                    .get(&i.image)
                    .copied()
                    .ok_or_else(|| anyhow!("film #{} is not in the label table", i.image.ordinal()))
            })
            .collect()
    }

    /// Number of abnormal images.
    pub fn abnormal(&self) -> usize {
        self.by_image.values().filter(|&&y| y == 1).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mias_data::{AbnormalityClass, Lesion, Severity, Tissue};

    fn records() -> Vec<ImageRecord> {
        mias_data::info::mdb_all()
            .take(40)
            .map(|id| {
                let lesions = if id.ordinal() % 4 == 1 {
                    vec![Lesion {
                        class: AbnormalityClass::Calc,
                        severity: Severity::Malignant,
                        centre: None,
                        radius: None,
                        note: None,
                        line: 1,
                    }]
                } else {
                    vec![]
                };
                ImageRecord::numbered(id, Tissue::Fatty, lesions)
            })
            .collect()
    }

    #[test]
    fn permuted_labels_keep_the_count_and_move_between_women() {
        let recs = records();
        let items: Vec<Item> = recs.iter().map(|r| Item::original(r.id)).collect();
        let real = Labels::new(&recs, mias_data::Labelling::OFFICIAL, LabelSource::Real);
        // Images 1, 5, 9, ...: every odd woman's left breast.
        assert_eq!(real.abnormal(), 10);
        let y = real.of(&items).unwrap();
        assert_eq!(y[0], 1);
        assert_eq!(y[1], 0);
        let permuted = Labels::new(
            &recs,
            mias_data::Labelling::OFFICIAL,
            LabelSource::Permuted { seed: 3 },
        );
        assert_eq!(permuted.abnormal(), 10);
        let py = permuted.of(&items).unwrap();
        assert_ne!(py, y);
        // Only left breasts (odd numbers) can be abnormal: pairs move whole.
        for (r, &label) in recs.iter().zip(&py) {
            if label == 1 {
                assert_eq!(r.id.ordinal() % 2, 1, "{:?}", r.id);
            }
        }
        assert_eq!(permuted.source().name(), "permuted");
        assert_eq!(permuted.source().seed(), Some(3));
        let missing = [Item::original(mias_data::info::mdb(300).unwrap())];
        let err = real.of(&missing).unwrap_err().to_string();
        assert!(err.contains("film #300"), "{err}");
    }
}

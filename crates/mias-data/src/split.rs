//! Train/validation/test splits and cross-validation folds, and an audit of what they leak.
//!
//! Three families:
//! - [`paper_split`]: the paper's protocol, reproduced on purpose. Augmented copies are made
//!   first and the resulting pool of views is split at random by view, so copies of one image,
//!   and the two breasts of one woman, land on both sides.
//! - [`image_split`]: the common practice of Keras tutorials: a random split by image, copies
//!   made of training images only. No copy crosses the split, but a woman's two breasts can.
//! - [`patient_folds`] and [`patient_split`]: leakage-free. The unit is the woman (both breasts
//!   always together), stratified by how many of her images are abnormal (0, 1 or 2), so every
//!   fold keeps the class balance of the whole.
//!
//! [`audit`] lists every source image and every woman that two parts of a split share, and
//! [`permute_over_women`] draws the label permutation of a negative control.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::info::{ImageId, ImageRecord, Label, Labelling, PatientId};
use crate::rng;

/// One sample of a split: an image and which view of it (0 = the original, 1.. = augmented
/// copies drawn from the split's seed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Item {
    /// The source image.
    pub image: ImageId,
    /// The view index: 0 is the unaugmented image.
    pub view: u32,
}

impl Item {
    /// The unaugmented image.
    pub fn original(image: ImageId) -> Self {
        Item { image, view: 0 }
    }
}

/// Fractions of a train/validation/test split; they must add up to 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Fractions {
    /// Share for training.
    pub train: f64,
    /// Share for validation.
    pub val: f64,
    /// Share for testing.
    pub test: f64,
}

impl Fractions {
    /// Checks that each share is in [0, 1], train and test positive, and the sum is 1.
    pub fn validate(&self) -> Result<()> {
        let all = [self.train, self.val, self.test];
        if all.iter().any(|f| !(0.0..=1.0).contains(f)) || self.train <= 0.0 || self.test <= 0.0 {
            return Err(Error::parameter(
                "split fractions",
                format!("{}/{}/{}", self.train, self.val, self.test),
                "each share must lie in [0, 1], with train and test above 0",
            ));
        }
        let sum: f64 = all.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(Error::parameter(
                "split fractions",
                format!("{}/{}/{}", self.train, self.val, self.test),
                format!("the shares must add up to 1, they add up to {sum}"),
            ));
        }
        Ok(())
    }

    /// Splits `n` into three counts by the largest-remainder method (they add up to `n`).
    fn counts(&self, n: usize) -> [usize; 3] {
        let exact = [
            self.train * n as f64,
            self.val * n as f64,
            self.test * n as f64,
        ];
        let mut counts = exact.map(|x| x.floor() as usize);
        let mut order = [0usize, 1, 2];
        // Largest remainder first; ties go to train, then test, then validation.
        let rank = |i: usize| match i {
            0 => 0,
            2 => 1,
            _ => 2,
        };
        order.sort_by(|&a, &b| {
            let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
            rb.total_cmp(&ra).then(rank(a).cmp(&rank(b)))
        });
        let mut left = n - counts.iter().sum::<usize>();
        for i in order {
            if left == 0 {
                break;
            }
            counts[i] += 1;
            left -= 1;
        }
        counts
    }
}

/// A train/validation/test split of items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrainValTest {
    /// Training items.
    pub train: Vec<Item>,
    /// Validation items.
    pub val: Vec<Item>,
    /// Test items.
    pub test: Vec<Item>,
}

impl TrainValTest {
    /// The parts with their names, for [`audit`].
    pub fn parts(&self) -> [(&'static str, &[Item]); 3] {
        [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
        ]
    }
}

/// One fold of a cross-validation: the images of the held-out women, and all the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fold {
    /// 0-based fold number.
    pub index: usize,
    /// Images of the women outside this fold.
    pub train: Vec<ImageId>,
    /// Images of the women in this fold.
    pub test: Vec<ImageId>,
}

impl Fold {
    /// The fold as original-view items, for [`audit`].
    pub fn items(&self) -> (Vec<Item>, Vec<Item>) {
        let items = |ids: &[ImageId]| ids.iter().copied().map(Item::original).collect();
        (items(&self.train), items(&self.test))
    }
}

/// The paper's protocol: every image contributes `views` items (the original and
/// `views - 1` augmented copies), and the pooled items are shuffled and cut by `fractions`.
/// This leaks by design; it exists to reproduce the published figures and to show the leak.
pub fn paper_split(
    images: &[ImageId],
    views: u32,
    fractions: Fractions,
    seed: u64,
) -> Result<TrainValTest> {
    fractions.validate()?;
    if views == 0 {
        return Err(Error::parameter(
            "views",
            views,
            "at least 1 (the original)",
        ));
    }
    if images.is_empty() {
        return Err(Error::parameter("images", 0, "at least one image to split"));
    }
    let mut items: Vec<Item> = images
        .iter()
        .flat_map(|&image| (0..views).map(move |view| Item { image, view }))
        .collect();
    let mut rng = rng::derived(seed, "paper-split", &[]);
    rng::shuffle(&mut items, &mut rng);
    let [n_train, n_val, _] = fractions.counts(items.len());
    let test = items.split_off(n_train + n_val);
    let val = items.split_off(n_train);
    Ok(TrainValTest {
        train: items,
        val,
        test,
    })
}

/// A random split by image (not by woman), stratified by label as the common
/// `train_test_split(..., stratify=y)` is: within each class the images are shuffled and cut
/// by `fractions` (largest remainder), so that a small test set still holds both classes.
/// Every part holds originals only (the caller adds augmented copies to training). A woman's
/// two breasts can land on both sides; no copy of an image can.
pub fn image_split(
    records: &[ImageRecord],
    labelling: Labelling,
    fractions: Fractions,
    seed: u64,
) -> Result<TrainValTest> {
    fractions.validate()?;
    if records.is_empty() {
        return Err(Error::parameter("images", 0, "at least one image to split"));
    }
    let mut split = TrainValTest {
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    for (k, label) in [Label::Normal, Label::Abnormal].into_iter().enumerate() {
        let mut ids: Vec<ImageId> = records
            .iter()
            .filter(|r| r.label(labelling) == label)
            .map(|r| r.id)
            .collect();
        rng::shuffle(
            &mut ids,
            &mut rng::derived(seed, "image-split", &[k as u64]),
        );
        let [n_train, n_val, _] = fractions.counts(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            let part = if i < n_train {
                &mut split.train
            } else if i < n_train + n_val {
                &mut split.val
            } else {
                &mut split.test
            };
            part.push(Item::original(id));
        }
    }
    for part in [&mut split.train, &mut split.val, &mut split.test] {
        part.sort();
    }
    Ok(split)
}

/// The label permutation of a negative control, over women: women with the same number of
/// images are shuffled among themselves (seeded), and the `j`-th image (by id) of each woman
/// takes the label of the `j`-th image of the woman she was matched with. Returns, for every
/// image, the image whose label it now carries (itself when its woman was matched to herself).
///
/// Permuting women rather than images keeps what a woman's pair of films looks like (one
/// abnormal breast, two, or none) and moves it, whole, to another woman: whatever a model
/// learns about the real labels cannot survive it, while a leak between copies can.
pub fn permute_over_women(records: &[ImageRecord], seed: u64) -> BTreeMap<ImageId, ImageId> {
    let mut women: BTreeMap<PatientId, Vec<ImageId>> = BTreeMap::new();
    for r in records {
        women.entry(r.patient).or_default().push(r.id);
    }
    let mut by_size: BTreeMap<usize, Vec<Vec<ImageId>>> = BTreeMap::new();
    for (_, mut ids) in women {
        ids.sort();
        ids.dedup();
        by_size.entry(ids.len()).or_default().push(ids);
    }
    let mut source_of = BTreeMap::new();
    for (size, group) in by_size {
        let mut sources: Vec<usize> = (0..group.len()).collect();
        let mut rng = rng::derived(seed, "permute-over-women", &[size as u64]);
        rng::shuffle(&mut sources, &mut rng);
        for (target, &source) in group.iter().zip(&sources) {
            for (&t, &s) in target.iter().zip(&group[source]) {
                source_of.insert(t, s);
            }
        }
    }
    source_of
}

/// Women of `records`, grouped by stratum (number of abnormal images: 0, 1 or 2), each
/// stratum shuffled with the seed.
fn shuffled_strata(
    records: &[ImageRecord],
    labelling: Labelling,
    seed: u64,
    tag: &str,
) -> Vec<Vec<(PatientId, Vec<ImageId>)>> {
    let mut women: BTreeMap<PatientId, (usize, Vec<ImageId>)> = BTreeMap::new();
    for r in records {
        let entry = women.entry(r.patient).or_default();
        entry.0 += usize::from(r.label(labelling) == Label::Abnormal);
        entry.1.push(r.id);
    }
    let mut strata: Vec<Vec<(PatientId, Vec<ImageId>)>> = vec![Vec::new(); 3];
    for (woman, (abnormal, images)) in women {
        strata[abnormal.min(2)].push((woman, images));
    }
    for (i, stratum) in strata.iter_mut().enumerate() {
        let mut rng = rng::derived(seed, tag, &[i as u64]);
        rng::shuffle(stratum, &mut rng);
    }
    strata
}

/// Stratified k-fold cross-validation grouped by woman: both breasts of a woman are always in
/// the same fold, and each fold holds about the same share of women with 0, 1 and 2 abnormal
/// images. Women are dealt round-robin within each stratum, continuing where the previous
/// stratum stopped, so fold sizes differ by at most one woman.
pub fn patient_folds(
    records: &[ImageRecord],
    labelling: Labelling,
    k: usize,
    seed: u64,
) -> Result<Vec<Fold>> {
    let strata = shuffled_strata(records, labelling, seed, "patient-folds");
    let women: usize = strata.iter().map(Vec::len).sum();
    if k < 2 || k > women {
        return Err(Error::parameter(
            "number of folds",
            k,
            format!("between 2 and the number of women ({women})"),
        ));
    }
    let mut fold_of: BTreeMap<ImageId, usize> = BTreeMap::new();
    let mut next = 0usize;
    for stratum in &strata {
        for (_, images) in stratum {
            for &id in images {
                fold_of.insert(id, next % k);
            }
            next += 1;
        }
    }
    Ok((0..k)
        .map(|index| {
            let (test, train) = fold_of.iter().partition::<Vec<_>, _>(|(_, f)| **f == index);
            Fold {
                index,
                train: train.into_iter().map(|(id, _)| *id).collect(),
                test: test.into_iter().map(|(id, _)| *id).collect(),
            }
        })
        .collect())
}

/// A train/validation/test split grouped by woman and stratified as [`patient_folds`]:
/// within each stratum, the shuffled women are cut by `fractions` (largest remainder).
pub fn patient_split(
    records: &[ImageRecord],
    labelling: Labelling,
    fractions: Fractions,
    seed: u64,
) -> Result<TrainValTest> {
    fractions.validate()?;
    let mut split = TrainValTest {
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    for stratum in shuffled_strata(records, labelling, seed, "patient-split") {
        let [n_train, n_val, _] = fractions.counts(stratum.len());
        for (i, (_, images)) in stratum.into_iter().enumerate() {
            let part = if i < n_train {
                &mut split.train
            } else if i < n_train + n_val {
                &mut split.val
            } else {
                &mut split.test
            };
            part.extend(images.into_iter().map(Item::original));
        }
    }
    for part in [&mut split.train, &mut split.val, &mut split.test] {
        part.sort();
    }
    Ok(split)
}

/// A source image found in more than one part of a split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedImage {
    /// The image.
    pub image: ImageId,
    /// The parts it appears in, each with the views it has there.
    pub parts: Vec<(String, Vec<u32>)>,
}

/// A woman with images in more than one part of a split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedWoman {
    /// The woman.
    pub patient: PatientId,
    /// The parts her images appear in, each with the images found there.
    pub parts: Vec<(String, Vec<ImageId>)>,
}

/// What the parts of a split share. A leakage-free split has nothing here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// Items per part, in the order given.
    pub sizes: Vec<(String, usize)>,
    /// Source images with views in two or more parts.
    pub shared_images: Vec<SharedImage>,
    /// Women with images in two or more parts (includes every shared image's woman).
    pub shared_women: Vec<SharedWoman>,
}

impl Audit {
    /// True when no image and no woman is in two parts.
    pub fn is_clean(&self) -> bool {
        self.shared_images.is_empty() && self.shared_women.is_empty()
    }

    /// Number of items of `part` whose source image also appears in another part.
    pub fn leaked_items(&self, part: &str) -> usize {
        self.shared_images
            .iter()
            .flat_map(|s| &s.parts)
            .filter(|(p, _)| p == part)
            .map(|(_, views)| views.len())
            .sum()
    }
}

/// Films as `#n` (1-based positions in the dataset, Mini-MIAS's `mdbNNN` is `#NNN`) and women
/// by number: the audit knows no names ([`crate::Dataset::name`] has them).
impl fmt::Display for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<String> = self.sizes.iter().map(|(p, n)| format!("{p} {n}")).collect();
        writeln!(f, "parts: {}", sizes.join(", "))?;
        if self.is_clean() {
            return writeln!(f, "no image and no woman is shared between parts");
        }
        writeln!(
            f,
            "{} source image(s) and {} woman/women shared between parts",
            self.shared_images.len(),
            self.shared_women.len()
        )?;
        for s in &self.shared_images {
            let parts: Vec<String> = s
                .parts
                .iter()
                .map(|(p, v)| format!("{p} ({} view(s))", v.len()))
                .collect();
            writeln!(f, "  image #{}: {}", s.image.ordinal(), parts.join(", "))?;
        }
        for w in &self.shared_women {
            let parts: Vec<String> = w
                .parts
                .iter()
                .map(|(p, ids)| {
                    let ids: Vec<String> =
                        ids.iter().map(|i| format!("#{}", i.ordinal())).collect();
                    format!("{p} [{}]", ids.join(" "))
                })
                .collect();
            writeln!(f, "  woman #{}: {}", w.patient.0, parts.join(", "))?;
        }
        Ok(())
    }
}

/// Values of one key, per part: `(part, values in order)`.
type ByPart<V> = Vec<(usize, Vec<V>)>;

/// Runs of equal keys in `(key, part, value)` rows sorted by key then part, each as
/// `(key, values per part)`.
fn grouped<K: Copy + PartialEq, V: Copy>(rows: &[(K, usize, V)]) -> Vec<(K, ByPart<V>)> {
    let mut out: Vec<(K, ByPart<V>)> = Vec::new();
    for &(k, p, v) in rows {
        if out.last().is_none_or(|(last, _)| *last != k) {
            out.push((k, Vec::new()));
        }
        let parts = &mut out.last_mut().expect("pushed above").1;
        if parts.last().is_none_or(|(last, _)| *last != p) {
            parts.push((p, Vec::new()));
        }
        parts.last_mut().expect("pushed above").1.push(v);
    }
    out
}

/// Lists every source image and every woman that appears in two or more of the named parts;
/// `records` say whose each image is (an item whose image they do not list counts under no
/// woman).
pub fn audit(records: &[ImageRecord], parts: &[(&str, &[Item])]) -> Audit {
    // Flat sorted lists rather than a map per image and woman: a million-film split costs
    // tens of megabytes, not a gigabyte.
    let mut patient_of: Vec<(ImageId, PatientId)> =
        records.iter().map(|r| (r.id, r.patient)).collect();
    patient_of.sort_unstable();
    let patient = |image: ImageId| {
        patient_of
            .binary_search_by_key(&image, |&(i, _)| i)
            .ok()
            .map(|k| patient_of[k].1)
    };
    let mut by_image: Vec<(ImageId, usize, u32)> = Vec::new();
    let mut by_woman: Vec<(PatientId, usize, ImageId)> = Vec::new();
    for (p, (_, items)) in parts.iter().enumerate() {
        for item in items.iter() {
            by_image.push((item.image, p, item.view));
            if let Some(w) = patient(item.image) {
                by_woman.push((w, p, item.image));
            }
        }
    }
    by_image.sort_unstable();
    by_woman.sort_unstable();
    by_woman.dedup();
    let name = |p: usize| parts[p].0.to_string();
    Audit {
        sizes: parts
            .iter()
            .map(|(n, i)| (n.to_string(), i.len()))
            .collect(),
        shared_images: grouped(&by_image)
            .into_iter()
            .filter(|(_, by_part)| by_part.len() > 1)
            .map(|(image, by_part)| SharedImage {
                image,
                parts: by_part.into_iter().map(|(p, v)| (name(p), v)).collect(),
            })
            .collect(),
        shared_women: grouped(&by_woman)
            .into_iter()
            .filter(|(_, by_part)| by_part.len() > 1)
            .map(|(patient, by_part)| SharedWoman {
                patient,
                parts: by_part.into_iter().map(|(p, ids)| (name(p), ids)).collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::{AbnormalityClass, Lesion, Severity, Tissue, mdb};

    /// 40 women; woman k has abnormal right breast when k % 3 == 0, both abnormal when k % 7 == 0.
    fn records() -> Vec<ImageRecord> {
        crate::info::mdb_all()
            .take(80)
            .map(|id| {
                let k = crate::info::mdb_patient(id).0;
                let abnormal =
                    k.is_multiple_of(7) || (k.is_multiple_of(3) && id.ordinal() % 2 == 1);
                ImageRecord::numbered(
                    id,
                    Tissue::Fatty,
                    if abnormal {
                        vec![Lesion {
                            class: AbnormalityClass::Circ,
                            severity: Severity::Benign,
                            centre: None,
                            radius: None,
                            note: None,
                            line: 1,
                        }]
                    } else {
                        vec![]
                    },
                )
            })
            .collect()
    }

    #[test]
    fn counts_add_up_with_largest_remainder() {
        let f = Fractions {
            train: 0.8,
            val: 0.1,
            test: 0.1,
        };
        assert_eq!(f.counts(322), [258, 32, 32]); // 257.6, 32.2, 32.2 -> the .6 rounds up
        assert_eq!(f.counts(10), [8, 1, 1]);
        assert_eq!(f.counts(1), [1, 0, 0]);
        let bad = Fractions {
            train: 0.8,
            val: 0.1,
            test: 0.2,
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("add up to 1")
        );
    }

    #[test]
    fn folds_are_grouped_stratified_and_cover_everything_once() {
        let recs = records();
        let folds = patient_folds(&recs, Labelling::OFFICIAL, 5, 42).unwrap();
        assert_eq!(folds.len(), 5);
        let mut seen: Vec<ImageId> = folds.iter().flat_map(|f| f.test.clone()).collect();
        seen.sort();
        assert_eq!(seen, recs.iter().map(|r| r.id).collect::<Vec<_>>());
        for fold in &folds {
            // 40 women over 5 folds: 8 women, 16 images each.
            assert_eq!(fold.test.len(), 16);
            assert_eq!(fold.train.len() + fold.test.len(), 80);
            let (train, test) = fold.items();
            let a = audit(&recs, &[("train", &train), ("test", &test)]);
            assert!(a.is_clean(), "fold {} leaks:\n{a}", fold.index);
            // Women with two abnormal images (k = 7, 14, 21, 28, 35) spread one per fold.
            let both: usize = fold
                .test
                .iter()
                .filter(|id| {
                    id.ordinal() % 2 == 1 && crate::info::mdb_patient(**id).0.is_multiple_of(7)
                })
                .count();
            assert_eq!(both, 1);
        }
        assert_eq!(
            folds,
            patient_folds(&recs, Labelling::OFFICIAL, 5, 42).unwrap()
        );
        assert_ne!(
            folds,
            patient_folds(&recs, Labelling::OFFICIAL, 5, 43).unwrap()
        );
        assert!(patient_folds(&recs, Labelling::OFFICIAL, 1, 0).is_err());
        assert!(patient_folds(&recs, Labelling::OFFICIAL, 41, 0).is_err());
    }

    #[test]
    fn paper_split_leaks_and_the_audit_sees_it() {
        let ids: Vec<ImageId> = records().iter().map(|r| r.id).collect();
        let f = Fractions {
            train: 0.8,
            val: 0.1,
            test: 0.1,
        };
        let split = paper_split(&ids, 5, f, 1).unwrap();
        assert_eq!(
            (split.train.len(), split.val.len(), split.test.len()),
            (320, 40, 40)
        );
        let a = audit(&records(), &split.parts());
        assert!(!a.is_clean());
        // With 5 views of each of 80 images, almost every test item has a sibling in train.
        assert!(a.leaked_items("test") > 30, "{a}");
        assert_eq!(split, paper_split(&ids, 5, f, 1).unwrap());
    }

    #[test]
    fn patient_split_is_clean() {
        let f = Fractions {
            train: 0.7,
            val: 0.15,
            test: 0.15,
        };
        let split = patient_split(&records(), Labelling::OFFICIAL, f, 3).unwrap();
        let total = split.train.len() + split.val.len() + split.test.len();
        assert_eq!(total, 80);
        assert!(audit(&records(), &split.parts()).is_clean());
        assert!(split.test.len() >= 10 && split.val.len() >= 10);
    }

    #[test]
    fn audit_names_shared_images_and_women() {
        let a = [Item::original(mdb(1).unwrap())];
        let b = [
            Item {
                image: mdb(1).unwrap(),
                view: 3,
            },
            Item::original(mdb(4).unwrap()),
        ];
        let c = [Item::original(mdb(3).unwrap())];
        let report = audit(&records(), &[("train", &a), ("test", &b), ("val", &c)]);
        assert_eq!(report.shared_images.len(), 1);
        assert_eq!(
            report.shared_images[0].parts[1],
            ("test".to_string(), vec![3])
        );
        // woman 1 (image 1 in train and test) and woman 2 (image 3 in val, image 4 in test)
        assert_eq!(report.shared_women.len(), 2);
        assert_eq!(report.leaked_items("test"), 1);
        let text = report.to_string();
        assert!(
            text.contains("image #1: train (1 view(s)), test (1 view(s))"),
            "{text}"
        );
        assert!(text.contains("woman #2: test [#4], val [#3]"), "{text}");
    }

    #[test]
    fn image_split_cuts_images_not_copies_and_lets_women_straddle() {
        // 322 images, 207 normal and 115 abnormal (official labels).
        let records: Vec<ImageRecord> = crate::info::mdb_all()
            .map(|id| {
                // mdb005 is abnormal in `records`; 23 cycles of 14 with 5 abnormal each.
                let mut r = records()[4].clone();
                r.id = id;
                r.patient = crate::info::mdb_patient(id);
                if id.ordinal() % 14 >= 5 {
                    r.lesions.clear();
                }
                r
            })
            .collect();
        let abnormal = records
            .iter()
            .filter(|r| r.label(Labelling::OFFICIAL) == Label::Abnormal)
            .count();
        assert_eq!(abnormal, 115);
        let f = Fractions {
            train: 0.8,
            val: 0.1,
            test: 0.1,
        };
        let s = image_split(&records, Labelling::OFFICIAL, f, 42).unwrap();
        // Per class, largest remainder (ties: train, test, validation): normal 207 gives
        // 165/21/21, abnormal 115 gives 92/11/12.
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (257, 32, 33));
        let in_test = |label: Label| {
            s.test
                .iter()
                .filter(|i| records[i.image.index()].label(Labelling::OFFICIAL) == label)
                .count()
        };
        assert_eq!((in_test(Label::Normal), in_test(Label::Abnormal)), (21, 12));
        let mut all: Vec<Item> = [&s.train, &s.val, &s.test]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        assert!(all.iter().all(|i| i.view == 0));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 322);
        let report = audit(&records, &s.parts());
        assert!(report.shared_images.is_empty(), "{report}");
        // With 33 test images drawn at random from 161 women, some test woman's other breast
        // is in training (the chance that none is, is below 1e-6).
        assert!(!report.shared_women.is_empty());
        assert_eq!(
            image_split(&records, Labelling::OFFICIAL, f, 42).unwrap(),
            s
        );
        assert_ne!(
            image_split(&records, Labelling::OFFICIAL, f, 43)
                .unwrap()
                .test,
            s.test
        );
    }

    #[test]
    fn the_permutation_over_women_moves_pairs_whole_and_is_seeded() {
        // 30 women with two images and the single image mdb061 (woman 31).
        let ids: Vec<ImageId> = crate::info::mdb_all().take(61).collect();
        let recs: Vec<ImageRecord> = ids
            .iter()
            .map(|&id| ImageRecord::numbered(id, Tissue::Fatty, Vec::new()))
            .collect();
        let p = permute_over_women(&recs, 5);
        assert_eq!(p.len(), 61);
        let mut sources: Vec<ImageId> = p.values().copied().collect();
        sources.sort();
        assert_eq!(sources, ids, "a permutation: every image is a source once");
        for (t, s) in &p {
            // Left stays left and right stays right, and a woman's two images come from one
            // woman.
            assert_eq!(t.ordinal() % 2, s.ordinal() % 2, "{t:?} <- {s:?}");
            let partner = mdb(if t.ordinal() % 2 == 1 {
                t.ordinal() as u16 + 1
            } else {
                t.ordinal() as u16 - 1
            });
            if let Ok(partner) = partner
                && let Some(ps) = p.get(&partner)
            {
                assert_eq!(
                    crate::info::mdb_patient(*ps),
                    crate::info::mdb_patient(*s),
                    "{t:?} and {partner:?}"
                );
            }
        }
        assert_eq!(p[&mdb(61).unwrap()], mdb(61).unwrap());
        let moved = p.iter().filter(|(t, s)| t != s).count();
        assert!(moved >= 50, "only {moved} of 61 images moved");
        assert_eq!(permute_over_women(&recs, 5), p);
        assert_ne!(permute_over_women(&recs, 6), p);
    }
}

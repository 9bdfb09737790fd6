//! The leakage report of the paper's method: the same method under both protocols, and, part
//! by part, which test items share an image or a woman with the training data.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use mias_data::split::Item;
use mias_data::{ImageId, PatientId};
use mias_eval::Figure;

use super::experiment::Outcome;
use super::protocol::Part;
use crate::config::Protocol;

/// What the train (and validation) items of a part share with its test items.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TestLeak {
    /// Test items.
    pub test_items: usize,
    /// Test items whose image (another view of it, or itself) is also in training or
    /// validation.
    pub same_image: usize,
    /// Test items whose image is not, but whose woman's other breast is.
    pub same_woman_only: usize,
    /// Test items with neither.
    pub clean: usize,
}

/// Counts, item by item, how the test set of `part` leaks into its training data.
pub fn test_leak(part: &Part) -> TestLeak {
    let seen: Vec<&Item> = part.train.iter().chain(&part.val).collect();
    let images: BTreeSet<ImageId> = seen.iter().map(|i| i.image).collect();
    let women: BTreeSet<PatientId> = seen.iter().map(|i| i.image.patient()).collect();
    let mut leak = TestLeak {
        test_items: part.test.len(),
        ..TestLeak::default()
    };
    for item in &part.test {
        if images.contains(&item.image) {
            leak.same_image += 1;
        } else if women.contains(&item.image.patient()) {
            leak.same_woman_only += 1;
        } else {
            leak.clean += 1;
        }
    }
    leak
}

/// The leakage report (leakage.md): the protocols compared on `metrics` (the stacked metrics
/// table), then what training shared with each part's test set, then each part's audit.
pub fn leakage_markdown(
    outcome: &Outcome,
    all: &mias_eval::polars::prelude::DataFrame,
) -> anyhow::Result<String> {
    let mut md = String::from("# Leakage report\n\n");
    let has = |p: Protocol| outcome.protocols.iter().any(|o| o.protocol == p);
    if has(Protocol::Paper) && has(Protocol::Honest) {
        let mut t = mias_eval::compare_protocols(all, "paper", "honest", Figure::Auto)?;
        t.title = "The same method under both protocols".into();
        md.push_str(&t.to_markdown()?);
        md.push('\n');
    }
    md.push_str("## What training shared with the test set\n\n");
    md.push_str(
        "| protocol | part | test items | same image in training | other breast of the same \
         woman only | clean |\n|---|---|---:|---:|---:|---:|\n",
    );
    let mut audits = String::new();
    for o in &outcome.protocols {
        for part in &o.parts {
            let l = test_leak(part);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                o.protocol.name(),
                part.name,
                l.test_items,
                l.same_image,
                l.same_woman_only,
                l.clean
            );
            let a = part.audit();
            let _ = writeln!(
                audits,
                "- {} {}: {}; {} source image(s) and {} woman/women in more than one part{}",
                o.protocol.name(),
                part.name,
                a.sizes
                    .iter()
                    .map(|(p, n)| format!("{p} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                a.shared_images.len(),
                a.shared_women.len(),
                if a.is_clean() { " (clean)" } else { "" }
            );
        }
    }
    md.push_str(
        "\nThe paper's protocol augments before it splits, so other views of a test image are \
         in training, and it splits by image, so a woman's other breast can be too. The honest \
         protocol splits by woman and augments training folds only.\n\n## Audit of every part\n\n",
    );
    md.push_str(&audits);
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u16, view: u32) -> Item {
        Item {
            image: ImageId::new(n).unwrap(),
            view,
        }
    }

    #[test]
    fn test_leak_counts_copies_and_other_breasts_separately() {
        // Woman 1 = mdb001/mdb002, woman 2 = mdb003/mdb004, woman 3 = mdb005/mdb006.
        let part = Part {
            name: "split".into(),
            train: vec![item(1, 0), item(3, 1)],
            val: vec![item(6, 2)],
            test: vec![item(1, 1), item(4, 0), item(5, 0), item(7, 0)],
        };
        assert_eq!(
            test_leak(&part),
            TestLeak {
                test_items: 4,
                same_image: 1,
                same_woman_only: 2,
                clean: 1,
            }
        );
    }
}

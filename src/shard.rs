//! One shard of a run's feature work (`--shard I/N`): the images whose position in the sorted
//! image list is `I - 1` modulo `N`. All the views of an image fall in one shard, so each image
//! is decoded once, and the shards of a run together cover every image exactly once. The
//! feature cache is content-addressed (one file per key, image and view, written atomically),
//! so shards computed on many machines merge by copying their cache directories into one.

use std::fmt;
use std::str::FromStr;

/// `I/N`: shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Shard `index` (1-based) of `count`; `None` unless `1 <= index <= count`.
    pub fn new(index: usize, count: usize) -> Option<Shard> {
        (1..=count)
            .contains(&index)
            .then_some(Shard { index, count })
    }

    /// Whether the image at `position` (0-based, in sorted order) is in this shard.
    pub fn contains(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// The items of `sorted` (any list in image order) whose image is in this shard, where
    /// `image_of` gives each item's image and images are numbered by first appearance.
    pub fn select<T, K: PartialEq>(self, sorted: &[T], image_of: impl Fn(&T) -> K) -> Vec<&T> {
        let mut out = Vec::new();
        let mut position = 0usize;
        let mut last: Option<K> = None;
        for item in sorted {
            let image = image_of(item);
            if let Some(l) = &last
                && *l != image
            {
                position += 1;
            }
            if self.contains(position) {
                out.push(item);
            }
            last = Some(image);
        }
        out
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not I/N with 1 <= I <= N (e.g. 3/8)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(i, n).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_image_once_and_keep_views_together() {
        // 7 images with 3 views each, in image order.
        let items: Vec<(u32, u32)> = (0..7).flat_map(|i| (0..3).map(move |v| (i, v))).collect();
        let mut seen = Vec::new();
        for index in 1..=3 {
            let shard: Shard = format!("{index}/3").parse().unwrap();
            let mine = shard.select(&items, |&(i, _)| i);
            // Images 0, 3, 6 / 1, 4 / 2, 5, each with its three views.
            let images: Vec<u32> = mine.iter().map(|&&(i, _)| i).collect();
            let expected: Vec<u32> = (0..7u32)
                .filter(|i| *i as usize % 3 == index - 1)
                .flat_map(|i| [i; 3])
                .collect();
            assert_eq!(images, expected, "shard {index}/3");
            seen.extend(mine.into_iter().copied());
        }
        seen.sort_unstable();
        assert_eq!(seen, items);
        for bad in ["0/3", "4/3", "1/0", "a/3", "3", "1/3/5"] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("I/N"), "{bad}: {err}");
        }
        assert_eq!("2/5".parse::<Shard>().unwrap().to_string(), "2/5");
    }
}

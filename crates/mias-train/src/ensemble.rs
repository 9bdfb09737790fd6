//! Model averaging, as in the paper: the ensemble's softmax output is the mean of its
//! members' softmax outputs. With two classes the mean of the abnormal column carries
//! everything (the normal column is one minus it), so members are given as their
//! probabilities of abnormal, one per sample.

use crate::error::{Error, Result};

/// The mean of the members' probabilities, sample by sample, summed in f64 in member
/// order. Needs at least one member, all of the same length.
pub fn average<P: AsRef<[f32]>>(members: &[P]) -> Result<Vec<f32>> {
    let Some(first) = members.first() else {
        return Err(Error::InvalidData(
            "an ensemble needs at least one member".into(),
        ));
    };
    let n = first.as_ref().len();
    if let Some((i, m)) = members
        .iter()
        .enumerate()
        .find(|(_, m)| m.as_ref().len() != n)
    {
        return Err(Error::InvalidData(format!(
            "ensemble member {i} has {} probabilities, member 0 has {n}",
            m.as_ref().len()
        )));
    }
    let k = members.len() as f64;
    Ok((0..n)
        .map(|j| (members.iter().map(|m| m.as_ref()[j] as f64).sum::<f64>() / k) as f32)
        .collect())
}

/// Named members' probabilities of abnormal on the same samples, averaged over any
/// subset of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ensemble {
    members: Vec<(String, Vec<f32>)>,
}

impl Ensemble {
    /// An ensemble without members.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a member; its name must be new and its length that of the members before it.
    pub fn add(&mut self, name: impl Into<String>, probabilities: Vec<f32>) -> Result<()> {
        let name = name.into();
        if self.members.iter().any(|(n, _)| *n == name) {
            return Err(Error::InvalidData(format!(
                "ensemble member {name:?} added twice"
            )));
        }
        if let Some((first, p)) = self.members.first()
            && p.len() != probabilities.len()
        {
            return Err(Error::InvalidData(format!(
                "ensemble member {name:?} has {} probabilities, {first:?} has {}",
                probabilities.len(),
                p.len()
            )));
        }
        self.members.push((name, probabilities));
        Ok(())
    }

    /// Member names in the order they were added.
    pub fn names(&self) -> Vec<&str> {
        self.members.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// One member's probabilities.
    pub fn member(&self, name: &str) -> Option<&[f32]> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_slice())
    }

    /// The average over the named members (a non-empty subset, each named once).
    pub fn mean_of(&self, names: &[&str]) -> Result<Vec<f32>> {
        let mut picked = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(Error::InvalidData(format!(
                    "ensemble member {name:?} named twice"
                )));
            }
            let p = self.member(name).ok_or_else(|| {
                Error::InvalidData(format!(
                    "no ensemble member {name:?}; members are {:?}",
                    self.names()
                ))
            })?;
            picked.push(p);
        }
        average(&picked)
    }

    /// The average over all members.
    pub fn mean(&self) -> Result<Vec<f32>> {
        average(
            &self
                .members
                .iter()
                .map(|(_, p)| p.as_slice())
                .collect::<Vec<_>>(),
        )
    }

    /// Every non-empty subset of member names, smallest first, each in member order.
    pub fn subsets(&self) -> Vec<Vec<&str>> {
        let k = self.members.len().min(20);
        let mut masks: Vec<u32> = (1..(1u32 << k)).collect();
        masks.sort_by_key(|m| (m.count_ones(), std::cmp::Reverse(m.reverse_bits())));
        masks
            .into_iter()
            .map(|m| {
                (0..k)
                    .filter(|i| m & (1 << i) != 0)
                    .map(|i| self.members[i].0.as_str())
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_all_non_empty_combinations() {
        let mut e = Ensemble::new();
        for n in ["a", "b", "c"] {
            e.add(n, vec![0.5]).unwrap();
        }
        let s = e.subsets();
        assert_eq!(
            s,
            vec![
                vec!["a"],
                vec!["b"],
                vec!["c"],
                vec!["a", "b"],
                vec!["a", "c"],
                vec!["b", "c"],
                vec!["a", "b", "c"]
            ]
        );
    }
}

//! Every hyper-parameter of the head and of its training, with the paper's values as
//! defaults, and the seed all random draws derive from.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Hyper-parameters of the head, the optimiser and the training loop.
///
/// The defaults are the paper's (Laaffat et al.): hidden layers 1024, 256 and 28 with
/// ReLU, dropout 0.5 before the 2-way softmax, Adam with Keras's constants and learning
/// rate 5e-5, 10 epochs of batches of 32, shuffled every epoch. Unknown keys are an
/// error when deserialising, and missing keys take their default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Widths of the hidden ReLU layers, input side first.
    pub hidden: Vec<usize>,
    /// Dropout rate in `[0, 1)` applied after the last hidden layer at train time.
    pub dropout: f64,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Adam's decay rate of the first moment.
    pub beta_1: f64,
    /// Adam's decay rate of the second moment.
    pub beta_2: f64,
    /// Adam's epsilon, added to the square root of the second moment (Keras's
    /// "epsilon hat").
    pub epsilon: f64,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per optimiser step; the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// Whether each epoch visits the training set in a fresh random order.
    pub shuffle: bool,
    /// The seed of every random draw: initial weights, shuffling and dropout masks.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl TrainConfig {
    /// The paper's hyper-parameters with seed 0.
    pub fn paper() -> Self {
        Self {
            hidden: vec![1024, 256, 28],
            dropout: 0.5,
            learning_rate: 5e-5,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            epochs: 10,
            batch_size: 32,
            shuffle: true,
            seed: 0,
        }
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, value: String, reason| {
            Err(Error::InvalidConfig {
                field,
                value,
                reason,
            })
        };
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return bad(
                "hidden",
                format!("{:?}", self.hidden),
                "needs at least one layer, each wider than 0",
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", self.dropout.to_string(), "must lie in [0, 1)");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "must be finite and positive",
            );
        }
        if !(0.0..1.0).contains(&self.beta_1) {
            return bad("beta_1", self.beta_1.to_string(), "must lie in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.beta_2) {
            return bad("beta_2", self.beta_2.to_string(), "must lie in [0, 1)");
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad(
                "epsilon",
                self.epsilon.to_string(),
                "must be finite and positive",
            );
        }
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "must be at least 1");
        }
        Ok(())
    }

    /// The fields where `self` and `other` differ, as `field: X vs Y`, in alphabetical order.
    pub fn differences(&self, other: &Self) -> Vec<String> {
        let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
            (serde_json::to_value(self), serde_json::to_value(other))
        else {
            return vec!["config could not be compared".into()];
        };
        a.iter()
            .filter_map(|(k, va)| {
                let vb = &b[k];
                (va != vb).then(|| format!("{k}: {va} vs {vb}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_defaults_are_valid_and_match_the_paper() {
        let c = TrainConfig::default();
        c.validate().unwrap();
        assert_eq!(c.hidden, [1024, 256, 28]);
        assert_eq!((c.epochs, c.batch_size), (10, 32));
        assert_eq!(c.learning_rate, 5e-5);
        assert_eq!((c.beta_1, c.beta_2, c.epsilon), (0.9, 0.999, 1e-7));
        assert_eq!(c.dropout, 0.5);
    }

    #[test]
    fn out_of_range_fields_are_named() {
        type Edit = fn(&mut TrainConfig);
        let cases: [(&str, Edit); 8] = [
            ("hidden", |c| c.hidden = vec![]),
            ("hidden", |c| c.hidden = vec![4, 0]),
            ("dropout", |c| c.dropout = 1.0),
            ("learning_rate", |c| c.learning_rate = f64::NAN),
            ("beta_1", |c| c.beta_1 = -0.1),
            ("beta_2", |c| c.beta_2 = 1.0),
            ("epochs", |c| c.epochs = 0),
            ("batch_size", |c| c.batch_size = 0),
        ];
        for (field, edit) in cases {
            let mut c = TrainConfig::paper();
            edit(&mut c);
            match c.validate() {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected InvalidConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn json_round_trip_fills_defaults_and_rejects_unknown_keys() {
        let c: TrainConfig = serde_json::from_str(r#"{"seed": 7, "epochs": 3}"#).unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.epochs, 3);
        assert_eq!(c.hidden, TrainConfig::paper().hidden);
        let back: TrainConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let err = serde_json::from_str::<TrainConfig>(r#"{"learning_rat": 1.0}"#).unwrap_err();
        assert!(err.to_string().contains("learning_rat"), "{err}");
    }

    #[test]
    fn differences_name_each_changed_field() {
        let a = TrainConfig::paper();
        let mut b = a.clone();
        b.seed = 3;
        b.dropout = 0.25;
        let d = a.differences(&b);
        assert_eq!(d, ["dropout: 0.5 vs 0.25", "seed: 0 vs 3"]);
    }
}

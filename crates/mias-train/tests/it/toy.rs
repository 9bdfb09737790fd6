//! The head learns: a linearly separable set is fitted to 100% training accuracy.

use mias_train::{TrainConfig, train};

use crate::common::separable;

#[test]
fn learns_a_linearly_separable_set_to_full_accuracy() {
    let data = separable(256, 32, 7);
    // The paper's architecture, dropout 0.5 and batch size; a larger learning rate so a
    // few epochs suffice.
    let cfg = TrainConfig {
        learning_rate: 1e-3,
        epochs: 8,
        seed: 3,
        ..TrainConfig::paper()
    };
    let (head, history) = train(&cfg, &data, Some(&data)).unwrap();
    let first = history.epochs.first().unwrap();
    let last = history.epochs.last().unwrap();
    assert!(last.train_loss < first.train_loss / 2.0, "{history:?}");
    let (loss, accuracy) = head.evaluate(data.features(), data.labels()).unwrap();
    assert_eq!(accuracy, 1.0, "loss {loss}, history {history:?}");
    assert_eq!(last.val_accuracy, Some(1.0));
    let p = head.predict_proba(data.features()).unwrap();
    for (i, (p, y)) in p.iter().zip(data.labels()).enumerate() {
        assert_eq!(u32::from(*p > 0.5), *y, "sample {i}: p {p}");
    }
}

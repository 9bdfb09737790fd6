//! Tables: values in the right cells, CSV and Markdown that parse back, atomic writes that
//! leave no temporary file, and the literature file.

use std::path::{Path, PathBuf};

use mias_eval::polars::prelude::*;
use mias_eval::{
    ConfusionMatrix, CvSummary, Estimate, EvalConfig, Evaluation, Figure, FoldPredictions,
    IntervalMethod, Metric, Metrics, Quoted, compare_protocols, metrics_table, read_csv,
    read_literature, side_by_side, stack, table2, table3, tag_rows,
};

use crate::{assert_close, entries};

/// The crate docs' example model: tp 3, fn 1, fp 1, tn 3; AUC 15/16.
fn example_metrics() -> Metrics {
    let y = [true, true, true, false, false, false, false, true];
    let p = [0.9, 0.8, 0.4, 0.3, 0.6, 0.1, 0.2, 0.7];
    Metrics::from_scores(&y, &p, &EvalConfig::default()).unwrap()
}

/// A perfect model on 6 cases.
fn perfect_metrics() -> Metrics {
    let y = [true, true, true, false, false, false];
    let p = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
    Metrics::from_scores(&y, &p, &EvalConfig::default()).unwrap()
}

fn cv_eval() -> Evaluation {
    let folds = vec![
        FoldPredictions::new(
            vec![true, true, true, false, false, false],
            vec![0.9, 0.6, 0.4, 0.45, 0.2, 0.1],
        )
        .unwrap(),
        FoldPredictions::new(
            vec![true, true, false, false, false, true],
            vec![0.8, 0.3, 0.7, 0.2, 0.1, 0.9],
        )
        .unwrap(),
        FoldPredictions::new(
            vec![true, false, true, false, true, false],
            vec![0.7, 0.4, 0.6, 0.35, 0.45, 0.55],
        )
        .unwrap(),
    ];
    Evaluation::CrossValidated(CvSummary::from_folds(&folds, &EvalConfig::default()).unwrap())
}

fn all_metrics() -> DataFrame {
    let paper_a = Evaluation::Single(example_metrics());
    let paper_b = Evaluation::Single(perfect_metrics());
    let honest = cv_eval();
    let paper = metrics_table("paper", &[("VGG16", &paper_a), ("Ensemble", &paper_b)]).unwrap();
    let honest = metrics_table("honest", &[("VGG16", &honest)]).unwrap();
    stack(&[&paper.frame, &honest.frame]).unwrap()
}

/// Parses a Markdown pipe table (after an optional heading) into header and rows.
fn parse_markdown(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
    let split = |l: &str| -> Vec<String> {
        l.trim()
            .trim_start_matches('|')
            .trim_end_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = split(lines[0]);
    assert!(lines[1].contains("---"), "separator row: {}", lines[1]);
    let rows = lines[2..].iter().map(|l| split(l)).collect();
    (header, rows)
}

#[test]
fn metrics_table_has_one_row_per_model_and_metric() {
    let df = all_metrics();
    assert_eq!(df.height(), 3 * 6);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, mias_eval::METRICS_COLUMNS);
    // Row 0: paper, VGG16, accuracy 6/8 with Wilson [0.40928, 0.92852] (statsmodels).
    let value = df.column("value").unwrap().f64().unwrap().get(0).unwrap();
    let low = df.column("ci_low").unwrap().f64().unwrap().get(0).unwrap();
    let high = df.column("ci_high").unwrap().f64().unwrap().get(0).unwrap();
    assert_eq!(value, 0.75);
    assert_close(low, 0.409_275_430_310_168_8, 1e-12, "low");
    assert_close(high, 0.928_520_787_247_890_9, 1e-12, "high");
    assert_eq!(df.column("n").unwrap().u64().unwrap().get(0), Some(8));
    // Paper rows have no fold columns; honest rows do.
    let folds = df.column("folds").unwrap().u64().unwrap();
    assert_eq!(folds.get(0), None);
    assert_eq!(folds.get(12), Some(3));
}

#[test]
fn csv_round_trip_and_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let df = all_metrics();
    let path = dir.path().join("metrics.csv");
    mias_eval::write_csv(&df, &path).unwrap();
    let back = read_csv(&path).unwrap();
    assert_eq!(back.height(), df.height());
    assert_eq!(back.get_column_names(), df.get_column_names());
    for name in ["value", "ci_low", "ci_high", "fold_mean", "fold_ci_high"] {
        let a: Vec<Option<f64>> = df.column(name).unwrap().f64().unwrap().iter().collect();
        let b: Vec<Option<f64>> = back
            .column(name)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(a, b, "column {name} after the round trip");
    }
    // Tables built from the CSV equal those built from the frame.
    for protocol in ["paper", "honest"] {
        let t_mem = table2(&df, Some(protocol), Figure::Auto).unwrap();
        let t_csv = table2(&back, Some(protocol), Figure::Auto).unwrap();
        assert!(t_mem.frame.equals(&t_csv.frame), "{protocol}");
    }
    assert_eq!(entries(dir.path()), vec!["metrics.csv"]);
}

#[test]
fn table2_is_formatted_like_the_paper() {
    let dir = tempfile::tempdir().unwrap();
    let t = table2(&all_metrics(), Some("paper"), Figure::Auto).unwrap();
    let md_path = dir.path().join("table2.md");
    let csv_path = dir.path().join("table2.csv");
    t.write_markdown(&md_path).unwrap();
    t.write_csv(&csv_path).unwrap();
    assert_eq!(entries(dir.path()), vec!["table2.csv", "table2.md"]);

    let text = std::fs::read_to_string(&md_path).unwrap();
    assert!(text.starts_with("### Table 2: paper protocol\n"));
    let (header, rows) = parse_markdown(&text);
    assert_eq!(
        header,
        [
            "Model",
            "Accuracy",
            "Precision",
            "Recall",
            "F1",
            "Specificity",
            "AUC"
        ]
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "VGG16");
    // statsmodels: wilson(6, 8) = [0.4093, 0.9285]; wilson(3, 4) = [0.3006, 0.9544].
    assert_eq!(rows[0][1], "75.0 [40.9, 92.9]");
    assert_eq!(rows[0][2], "75.0 [30.1, 95.4]");
    assert_eq!(rows[0][3], "75.0 [30.1, 95.4]");
    assert!(rows[0][6].starts_with("93.8 ["), "{}", rows[0][6]);
    // The perfect model: AUC 1 with a DeLong interval of zero width.
    assert_eq!(rows[1][6], "100.0 [100.0, 100.0]");
    // The notes name the method of every figure.
    assert!(text.contains("- Accuracy: Wilson score"));
    assert!(text.contains("- F1: stratified bootstrap percentile (2000 replicates, seed 0)"));
    assert!(text.contains("- AUC: DeLong"));

    let back = read_csv(&csv_path).unwrap();
    assert!(back.equals(&t.frame));
}

#[test]
fn cross_validated_rows_show_the_fold_mean() {
    let df = all_metrics();
    let auto = table2(&df, Some("honest"), Figure::Auto).unwrap();
    let pooled = table2(&df, Some("honest"), Figure::Pooled).unwrap();
    let md = auto.to_markdown().unwrap();
    assert!(md.contains("Student t over 3 folds"), "{md}");
    assert!(!pooled.to_markdown().unwrap().contains("Student t"));
    // Fold accuracies at 0.5 (by hand): 5/6, 4/6, 4/6.
    let acc = auto
        .frame
        .column("Accuracy")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let mean: f64 = (5.0 / 6.0 + 4.0 / 6.0 + 4.0 / 6.0) / 3.0;
    assert!(acc.starts_with(&format!("{:.1} [", 100.0 * mean)), "{acc}");
    // Several protocols and none named: an error naming them.
    let err = table2(&df, None, Figure::Auto).unwrap_err().to_string();
    assert!(err.contains("honest") && err.contains("paper"), "{err}");
}

#[test]
fn comparison_gives_the_difference() {
    let t = compare_protocols(&all_metrics(), "paper", "honest", Figure::Pooled).unwrap();
    // One model in both protocols (VGG16) and one in paper only (Ensemble): 12 rows.
    assert_eq!(t.frame.height(), 12);
    let paper = t.frame.column("paper").unwrap().f64().unwrap();
    let honest = t.frame.column("honest").unwrap().f64().unwrap();
    let diff = t.frame.column("difference").unwrap().f64().unwrap();
    for i in 0..6 {
        let (a, b, d) = (
            paper.get(i).unwrap(),
            honest.get(i).unwrap(),
            diff.get(i).unwrap(),
        );
        assert_close(d, b - a, 1e-15, "difference");
    }
    assert_eq!(diff.get(6), None, "Ensemble has no honest figure");
    let md = t.to_markdown().unwrap();
    let (header, rows) = parse_markdown(&md);
    assert_eq!(
        header,
        ["Model", "Metric", "paper", "honest", "Difference (pp)"]
    );
    assert_eq!(rows[6][3], "n/a");
    assert!(rows[0][4].starts_with('+') || rows[0][4].starts_with('-'));
    assert!(compare_protocols(&all_metrics(), "paper", "paper", Figure::Auto).is_err());
    assert!(compare_protocols(&all_metrics(), "paper", "leaky", Figure::Auto).is_err());
}

#[test]
fn protocols_side_by_side_and_tagged_rows() {
    let t = side_by_side(
        &all_metrics(),
        &["paper", "honest"],
        &[Metric::Auc, Metric::Accuracy],
        Figure::Pooled,
    )
    .unwrap();
    // Two models (VGG16, Ensemble) x two metrics.
    assert_eq!(t.frame.height(), 4);
    let paper = t.frame.column("paper").unwrap().f64().unwrap();
    // The example model's AUC is 15/16 (hand count), its accuracy 6/8; the perfect one's 1.
    assert_close(paper.get(0).unwrap(), 15.0 / 16.0, 1e-12, "VGG16 paper AUC");
    assert_close(
        paper.get(1).unwrap(),
        6.0 / 8.0,
        1e-12,
        "VGG16 paper accuracy",
    );
    assert_close(paper.get(2).unwrap(), 1.0, 1e-12, "Ensemble paper AUC");
    let honest = t.frame.column("honest").unwrap().f64().unwrap();
    let two = compare_protocols(&all_metrics(), "paper", "honest", Figure::Pooled).unwrap();
    let auc_row = Metric::ALL.iter().position(|m| *m == Metric::Auc).unwrap();
    let two_honest = two.frame.column("honest").unwrap().f64().unwrap();
    assert_eq!(honest.get(0), two_honest.get(auc_row));
    assert_eq!(honest.get(2), None, "Ensemble has no honest figure");
    let (header, rows) = parse_markdown(&t.to_markdown().unwrap());
    assert_eq!(header, ["Model", "Metric", "paper", "honest"]);
    assert_eq!(rows[0][..2], ["VGG16", "AUC"]);
    assert!(rows[0][2].starts_with("93.8 ["), "{:?}", rows[0]);
    assert_eq!(rows[2][3], "n/a");
    for bad in [&[][..], &["paper", "paper"][..], &["paper", "leaky"][..]] {
        assert!(
            side_by_side(&all_metrics(), bad, &[], Figure::Auto).is_err(),
            "{bad:?}"
        );
    }
    // Every metric when none is named.
    let all = side_by_side(&all_metrics(), &["honest"], &[], Figure::Auto).unwrap();
    assert_eq!(all.frame.height(), Metric::ALL.len());

    let mut df = all_metrics();
    let height = df.height();
    tag_rows(&mut df, "labels", "permuted").unwrap();
    let labels = df.column("labels").unwrap().str().unwrap();
    assert_eq!(labels.len(), height);
    assert!(labels.iter().all(|v| v == Some("permuted")));
    // Tagged frames still read back as metrics.
    assert_eq!(
        table2(&df, Some("paper"), Figure::Auto)
            .unwrap()
            .frame
            .height(),
        2
    );
}

fn literature_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/literature.csv")
}

#[test]
fn literature_file_holds_the_quoted_figures() {
    let rows = read_literature(&literature_path()).unwrap();
    assert_eq!(rows.len(), 4);
    let find = |r: &str| rows.iter().find(|x| x.reference.starts_with(r)).unwrap();
    let r16 = find("[16]");
    assert_eq!(r16.figures[0], Quoted::Value(95.0, "95".into()));
    assert_eq!(r16.figures[1], Quoted::Missing);
    assert_eq!(r16.figures[3], Quoted::Value(98.0, "98".into()));
    assert_eq!(r16.figures[5], Quoted::Range(94.0, 98.0));
    let r17 = find("[17]");
    assert_eq!(r17.figures[2], Quoted::Value(99.5, "99.5".into()));
    let r14 = find("[14]");
    assert_eq!(r14.figures[0], Quoted::Value(98.53, "98.53".into()));
    assert_eq!(r14.figures[5], Quoted::Value(98.95, "98.95".into()));
    let paper = rows.iter().find(|r| r.source == "Laaffat et al.").unwrap();
    assert!(
        paper
            .figures
            .iter()
            .all(|f| *f == Quoted::Value(100.0, "100".into()))
    );
}

#[test]
fn table3_puts_ours_beside_the_literature() {
    let dir = tempfile::tempdir().unwrap();
    let lit = read_literature(&literature_path()).unwrap();
    let t = table3(
        &lit,
        &all_metrics(),
        &[("paper", "Ensemble"), ("honest", "VGG16")],
        Figure::Auto,
    )
    .unwrap();
    let path = dir.path().join("table3.md");
    t.write_markdown(&path).unwrap();
    let (header, rows) = parse_markdown(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(
        header[2..8],
        [
            "Accuracy",
            "Precision",
            "Recall",
            "F1",
            "Specificity",
            "AUC"
        ]
    );
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0][7], "94\u{2013}98");
    assert_eq!(rows[0][3], "\u{2014}");
    assert_eq!(rows[2][2], "98.53");
    assert_eq!(rows[4][0], "This work");
    assert_eq!(rows[4][1], "Ensemble, paper protocol");
    assert_eq!(rows[4][2], "100.0 [61.0, 100.0]");
    assert_eq!(rows[5][8], "mean over folds");
    assert!(
        table3(
            &lit,
            &all_metrics(),
            &[("paper", "NASNetLarge")],
            Figure::Auto
        )
        .is_err()
    );
    assert_eq!(entries(dir.path()), vec!["table3.md"]);
}

#[test]
fn bad_literature_files_name_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let header = "source,reference,quoted_by,accuracy,precision,recall,f1,specificity,auc,note\n";
    let bad_value = dir.path().join("bad_value.csv");
    std::fs::write(
        &bad_value,
        format!("{header}A,[1],Q,95,,,,,,ok\nB,[2],Q,high,,,,,,x\n"),
    )
    .unwrap();
    let err = read_literature(&bad_value).unwrap_err().to_string();
    assert!(err.contains("bad_value.csv:3: column accuracy"), "{err}");
    let bad_range = dir.path().join("bad_range.csv");
    std::fs::write(&bad_range, format!("{header}A,[1],Q,,,,,,98-94,x\n")).unwrap();
    let err = read_literature(&bad_range).unwrap_err().to_string();
    assert!(err.contains(":2: column auc"), "{err}");
    let bad_header = dir.path().join("bad_header.csv");
    std::fs::write(&bad_header, "source,ref,accuracy\nA,[1],95\n").unwrap();
    let err = read_literature(&bad_header).unwrap_err().to_string();
    assert!(
        err.contains(":1:") && err.contains("expected the header"),
        "{err}"
    );
    let missing = read_literature(&dir.path().join("nope.csv"))
        .unwrap_err()
        .to_string();
    assert!(missing.starts_with("reading "), "{missing}");
}

#[test]
fn metric_rows_follow_the_papers_order() {
    let df = all_metrics();
    let metrics: Vec<String> = df
        .column("metric")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .take(6)
        .map(|s| s.unwrap().to_string())
        .collect();
    let expected: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(metrics, expected);
}

/// Writes every table of the fixtures' example to `MIAS_EVAL_TABLE_DIR` when it is set (for a
/// look at the Markdown), and checks that each written file parses back.
#[test]
fn every_table_writes_and_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::env::var("MIAS_EVAL_TABLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.path().to_path_buf());
    let df = all_metrics();
    let lit = read_literature(&literature_path()).unwrap();
    let tables = [
        (
            "metrics",
            metrics_table(
                "paper",
                &[("VGG16", &Evaluation::Single(example_metrics()))],
            )
            .unwrap(),
        ),
        (
            "table2_paper",
            table2(&df, Some("paper"), Figure::Auto).unwrap(),
        ),
        (
            "table2_honest",
            table2(&df, Some("honest"), Figure::Auto).unwrap(),
        ),
        (
            "table3",
            table3(
                &lit,
                &df,
                &[("paper", "Ensemble"), ("honest", "VGG16")],
                Figure::Auto,
            )
            .unwrap(),
        ),
        (
            "leakage",
            compare_protocols(&df, "paper", "honest", Figure::Auto).unwrap(),
        ),
    ];
    for (name, t) in &tables {
        let csv = out.join(format!("{name}.csv"));
        let md = out.join(format!("{name}.md"));
        t.write_csv(&csv).unwrap();
        t.write_markdown(&md).unwrap();
        let back = read_csv(&csv).unwrap();
        assert_eq!(back.shape(), t.frame.shape(), "{name}");
        if *name == "metrics" {
            // Its fold columns are all empty, so the CSV reader types them as text: the
            // tables must still read it.
            let from_csv = table2(&back, None, Figure::Auto).unwrap();
            let from_frame = table2(&t.frame, None, Figure::Auto).unwrap();
            assert!(from_csv.frame.equals(&from_frame.frame));
        }
        let (header, rows) = parse_markdown(&std::fs::read_to_string(&md).unwrap());
        let shown = t.display.as_ref().unwrap_or(&t.frame);
        assert_eq!(header.len(), shown.width(), "{name}");
        assert_eq!(rows.len(), shown.height(), "{name}");
    }
    assert_eq!(
        entries(dir.path()).len(),
        if out == dir.path() { 10 } else { 0 }
    );
}

/// A figure at 95% with chosen ends (binary fractions, so every printed digit is exact).
fn est(value: f64, low: f64, high: f64, n: u64, method: IntervalMethod) -> Estimate {
    Estimate {
        value,
        low,
        high,
        n,
        level: 0.95,
        method,
    }
}

/// Figures written by hand (no computation): recall undefined.
fn hand_metrics() -> Metrics {
    Metrics {
        confusion: ConfusionMatrix {
            tp: 3,
            fp: 1,
            tn: 3,
            fn_: 1,
        },
        threshold: Some(0.5),
        accuracy: est(0.75, 0.5, 0.875, 8, IntervalMethod::Wilson),
        precision: Some(est(0.75, 0.25, 1.0, 4, IntervalMethod::Wilson)),
        recall: None,
        f1: Some(est(
            0.75,
            0.5,
            1.0,
            8,
            IntervalMethod::StratifiedBootstrap {
                replicates: 100,
                seed: 1,
            },
        )),
        specificity: Some(est(0.75, 0.25, 1.0, 4, IntervalMethod::Wilson)),
        auc: Some(est(0.9375, 0.75, 1.0, 8, IntervalMethod::DeLong)),
    }
}

/// The rendered files, byte for byte, against text written by hand.
#[test]
fn rendered_tables_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let eval = Evaluation::Single(hand_metrics());
    let metrics = metrics_table("p", &[("M", &eval)]).unwrap();
    let csv = dir.path().join("metrics.csv");
    metrics.write_csv(&csv).unwrap();
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "protocol,model,metric,value,ci_low,ci_high,n,level,method,folds,fold_mean,fold_sd,fold_ci_low,fold_ci_high\n\
         p,M,accuracy,0.75,0.5,0.875,8,0.95,Wilson score,,,,,\n\
         p,M,precision,0.75,0.25,1.0,4,0.95,Wilson score,,,,,\n\
         p,M,recall,,,,,,undefined,,,,,\n\
         p,M,f1,0.75,0.5,1.0,8,0.95,\"stratified bootstrap percentile (100 replicates, seed 1)\",,,,,\n\
         p,M,specificity,0.75,0.25,1.0,4,0.95,Wilson score,,,,,\n\
         p,M,auc,0.9375,0.75,1.0,8,0.95,DeLong,,,,,\n"
    );
    let methods = "- Accuracy: Wilson score\n\
                   - Precision: Wilson score\n\
                   - F1: stratified bootstrap percentile (100 replicates, seed 1)\n\
                   - Specificity: Wilson score\n\
                   - AUC: DeLong\n";
    let ours = "75.0 [50.0, 87.5] | 75.0 [25.0, 100.0] | n/a | 75.0 [50.0, 100.0] | \
                75.0 [25.0, 100.0] | 93.8 [75.0, 100.0]";
    let t2 = table2(&metrics.frame, None, Figure::Auto).unwrap();
    let md = dir.path().join("table2.md");
    t2.write_markdown(&md).unwrap();
    assert_eq!(
        std::fs::read_to_string(&md).unwrap(),
        format!(
            "### Table 2: p protocol\n\n\
             | Model | Accuracy | Precision | Recall | F1 | Specificity | AUC |\n\
             | --- | --- | --- | --- | --- | --- | --- |\n\
             | M | {ours} |\n\n\
             Figures in percent, 95% confidence interval in brackets. Interval methods:\n\n\
             {methods}"
        )
    );
    let lit = mias_eval::parse_literature(
        "source,reference,quoted_by,accuracy,precision,recall,f1,specificity,auc,note\n\
         S1,[1],Q et al.,95,,97,98,97,94-98,n1\n\
         S2,own,R,100,100,100,100,100,100,n2\n"
            .as_bytes(),
        Path::new("lit.csv"),
    )
    .unwrap();
    let t3 = table3(&lit, &metrics.frame, &[("p", "M")], Figure::Auto).unwrap();
    assert_eq!(
        t3.to_markdown().unwrap(),
        format!(
            "### Table 3: comparison with the literature\n\n\
             | Source | Reference | Accuracy | Precision | Recall | F1 | Specificity | AUC | Note |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n\
             | S1 | [1] | 95 | \u{2014} | 97 | 98 | 97 | 94\u{2013}98 | n1 |\n\
             | S2 | own | 100 | 100 | 100 | 100 | 100 | 100 | n2 |\n\
             | This work | M, p protocol | {ours} | all test cases |\n\n\
             Figures in percent. Literature figures as quoted by Q et al. and R (a range is \
             written low\u{2013}high; \u{2014}: not reported). This work: 95% confidence \
             interval in brackets. Interval methods:\n\n\
             {methods}"
        )
    );
}

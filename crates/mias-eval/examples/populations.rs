//! The AUC of score columns of a predictions CSV (one row per film, with `woman`, `label`,
//! `fold` and the named columns; no quoted fields) on the three populations, with intervals
//! from the bootstrap over women, and each column compared with the first on the same draws.
//! Used to recompute the figures of a finished run, e.g. the lesion method's committed
//! `docs/results/lesion/predictions.csv`:
//!
//! ```text
//! cargo run -p mias-eval --example populations -- docs/results/lesion/predictions.csv 42 2000 \
//!     score_vgg16_lesion+bilateral score_ensemble_lesion+bilateral
//! ```

use std::process::ExitCode;

use mias_eval::{Bootstrap, FilmScore, Population, WomanScore, compare_paired, population};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, seed, replicates, columns @ ..] = args.as_slice() else {
        return Err("usage: populations CSV SEED REPLICATES COLUMN...".into());
    };
    if columns.is_empty() {
        return Err("name at least one score column".into());
    }
    let parse = |v: &str, what: &str| v.parse::<u64>().map_err(|e| format!("{what} {v:?}: {e}"));
    let bootstrap = Bootstrap {
        seed: parse(seed, "seed")?,
        replicates: parse(replicates, "replicates")? as usize,
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("{path}: no column {name}"))
    };
    let (woman, label, fold) = (col("woman")?, col("label")?, col("fold")?);
    let records: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let rows_of = |column: &str| -> Result<Vec<FilmScore>, String> {
        let c = col(column)?;
        records
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let field = |i: usize, what: &str| {
                    f.get(i)
                        .copied()
                        .ok_or(format!("{path}:{}: no {what}", k + 2))
                };
                let num = |i: usize, what: &str| -> Result<f64, String> {
                    let v = field(i, what)?;
                    v.parse::<f64>()
                        .map_err(|e| format!("{path}:{}: {what} {v:?}: {e}", k + 2))
                };
                Ok(FilmScore {
                    film: k as u64,
                    woman: num(woman, "woman")? as u64,
                    abnormal: num(label, "label")? == 1.0,
                    score: num(c, column)?,
                    fold: Some(num(fold, "fold")? as usize),
                    threshold: None,
                })
            })
            .collect()
    };
    let rule = WomanScore::Max;
    let mut first: Option<(String, Vec<FilmScore>)> = None;
    for column in columns {
        let rows = rows_of(column)?;
        for p in Population::ALL {
            let cases = population(&rows, p, &rule).map_err(|e| e.to_string())?;
            let (pos, neg) = cases.class_counts();
            let auc = cases.auc(0.95, &bootstrap).map_err(|e| e.to_string())?;
            println!(
                "{column:<36} {:<22} {pos:>3} abnormal {neg:>3} normal  AUC {:.3} [{:.3}, {:.3}]",
                p.name(),
                auc.value,
                auc.low,
                auc.high
            );
            if let Some((name, base)) = &first {
                let base = population(base, p, &rule).map_err(|e| e.to_string())?;
                let c =
                    compare_paired(&base, &cases, 0.95, &bootstrap).map_err(|e| e.to_string())?;
                println!(
                    "{:<36} {:<22} minus {name}: {:+.3} [{:+.3}, {:+.3}]; {}",
                    "",
                    "",
                    c.difference,
                    c.low,
                    c.high,
                    match &c.delong {
                        mias_eval::DeLongUse::Applies(d) => format!(
                            "DeLong z {:.2}, p {:.3}",
                            d.z.unwrap_or(f64::NAN),
                            d.p_value.unwrap_or(f64::NAN)
                        ),
                        other => other.to_string(),
                    }
                );
            }
        }
        if first.is_none() {
            first = Some((column.clone(), rows));
        }
    }
    Ok(())
}

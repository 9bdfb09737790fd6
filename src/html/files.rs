//! Reading a finished run's files for the report: CSV tables by column name (errors name the
//! file, line, column and value), the long metrics table as typed rows, JSON records.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A CSV file read whole, its cells as text.
#[derive(Clone, Debug)]
pub struct CsvFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl CsvFile {
    /// Reads `path`; every row must have as many fields as the header.
    pub fn read(path: &Path) -> anyhow::Result<CsvFile> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .with_context(|| format!("reading {}", path.display()))?;
        let header: Vec<String> = reader
            .headers()
            .with_context(|| format!("{}: reading the header", path.display()))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            // Line numbers count the header as line 1.
            let record = record.with_context(|| format!("{}: line {}", path.display(), i + 2))?;
            rows.push(record.iter().map(str::to_string).collect());
        }
        Ok(CsvFile {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    /// Reads `path` when it exists.
    pub fn read_if_present(path: &Path) -> anyhow::Result<Option<CsvFile>> {
        if path.is_file() {
            CsvFile::read(path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The index of column `name`, if the file has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The index of column `name`, or an error naming the file and the column.
    pub fn require(&self, name: &str) -> anyhow::Result<usize> {
        self.column(name).with_context(|| {
            format!(
                "{}: no column `{name}` (columns: {})",
                self.path.display(),
                self.header.join(", ")
            )
        })
    }

    /// Row `row`'s cell in column `col`; empty text is `None`.
    pub fn text(&self, row: usize, col: usize) -> Option<&str> {
        self.rows[row]
            .get(col)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Row `row`'s cell in column `col` as a number; empty is `None`, anything else that is
    /// not a number an error naming the file, line, column and value.
    pub fn number(&self, row: usize, col: usize) -> anyhow::Result<Option<f64>> {
        match self.text(row, col) {
            None => Ok(None),
            Some(t) => t.trim().parse::<f64>().map(Some).with_context(|| {
                format!(
                    "{}: line {}, column `{}`: {t:?} is not a number",
                    self.path.display(),
                    row + 2,
                    self.header[col]
                )
            }),
        }
    }
}

/// One row of a long metrics table (`metrics.csv`, `lesion/metrics.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    /// Protocol (`paper`, `image`, `honest`, `official`).
    pub protocol: String,
    /// Model, as the tables name it (`VGG16`, `Ensemble`, `VGG16 lesion+bilateral`).
    pub model: String,
    /// Metric (`accuracy`, `precision`, `recall`, `f1`, `specificity`, `auc`).
    pub metric: String,
    /// The pooled figure and its interval.
    pub pooled: Option<(f64, f64, f64)>,
    /// The mean over folds and its interval, for cross-validated rows.
    pub fold_mean: Option<(f64, f64, f64)>,
    /// Folds the mean is over.
    pub folds: Option<f64>,
    /// How the pooled interval was computed.
    pub method: String,
    /// `real` or `permuted` (files from before the control have no such column: `real`).
    pub labels: String,
    /// The population the row is about (`films`, `films_vs_normal_women`, `women`), when the
    /// file has that column.
    pub population: Option<String>,
}

impl MetricRow {
    /// The figure a table shows: the mean over folds when there is one (the honest protocol of
    /// the paper method), else the pooled figure; with whether it is the fold mean.
    pub fn shown(&self) -> Option<((f64, f64, f64), bool)> {
        self.fold_mean
            .map(|f| (f, true))
            .or(self.pooled.map(|p| (p, false)))
    }
}

/// The rows of a lesion metrics file: the lesion method's pre-specified figure is the pooled
/// out-of-fold one, so its fold means (written since the populations) are not shown.
pub fn pooled_rows(mut rows: Vec<MetricRow>) -> Vec<MetricRow> {
    for r in &mut rows {
        r.fold_mean = None;
    }
    rows
}

/// Every row of a metrics file.
pub fn metric_rows(file: &CsvFile) -> anyhow::Result<Vec<MetricRow>> {
    let (protocol, model, metric) = (
        file.require("protocol")?,
        file.require("model")?,
        file.require("metric")?,
    );
    let (value, low, high) = (
        file.require("value")?,
        file.require("ci_low")?,
        file.require("ci_high")?,
    );
    let method = file.column("method");
    let folds = file.column("folds");
    let fold = (
        file.column("fold_mean"),
        file.column("fold_ci_low"),
        file.column("fold_ci_high"),
    );
    let labels = file.column("labels");
    let population = file.column("population");
    let mut rows = Vec::with_capacity(file.rows.len());
    for i in 0..file.rows.len() {
        let text = |col: usize| -> anyhow::Result<String> {
            file.text(i, col).map(str::to_string).with_context(|| {
                format!(
                    "{}: line {}: column `{}` is empty",
                    file.path.display(),
                    i + 2,
                    file.header[col]
                )
            })
        };
        let opt = |col: Option<usize>| -> anyhow::Result<Option<f64>> {
            col.map_or(Ok(None), |c| file.number(i, c))
        };
        let triple = |v, l, h| match (v, l, h) {
            (Some(v), Some(l), Some(h)) => Some((v, l, h)),
            _ => None,
        };
        rows.push(MetricRow {
            protocol: text(protocol)?,
            model: text(model)?,
            metric: text(metric)?,
            pooled: triple(
                file.number(i, value)?,
                file.number(i, low)?,
                file.number(i, high)?,
            ),
            fold_mean: triple(opt(fold.0)?, opt(fold.1)?, opt(fold.2)?),
            folds: opt(folds)?,
            method: method
                .and_then(|c| file.text(i, c))
                .unwrap_or_default()
                .to_string(),
            labels: labels
                .and_then(|c| file.text(i, c))
                .unwrap_or("real")
                .to_string(),
            population: population.and_then(|c| file.text(i, c)).map(str::to_string),
        });
    }
    Ok(rows)
}

/// A JSON file when it exists.
pub fn json_if_present(path: &Path) -> anyhow::Result<Option<serde_json::Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON file", path.display()))?;
    Ok(Some(value))
}

/// The files below `dir` (relative paths with `/`, sorted), skipping hidden entries and the
/// report itself.
pub fn listing(dir: &Path, skip: &str) -> anyhow::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let here = dir.join(&rel);
        let entries =
            std::fs::read_dir(&here).with_context(|| format!("listing {}", here.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", here.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let rel = rel.join(&name);
            let kind = entry
                .file_type()
                .with_context(|| format!("{}", entry.path().display()))?;
            if kind.is_dir() {
                stack.push(rel);
            } else if kind.is_file() {
                let text = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                if text != skip {
                    let len = entry.metadata().map_or(0, |m| m.len());
                    out.push((text, len));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The directory the report is about: it must exist and be a directory.
pub fn check_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!(
            "{}: not a directory (give the directory a run of `reproduce` or `leak-sweep` wrote)",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_rows_read_every_column_and_name_a_bad_cell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(
            &path,
            "protocol,model,metric,value,ci_low,ci_high,n,level,method,folds,fold_mean,fold_sd,\
             fold_ci_low,fold_ci_high,labels\n\
             honest,Ensemble,auc,0.5,0.4,0.6,10,0.95,DeLong,5,0.45,0.1,0.38,0.53,real\n\
             paper,VGG16,f1,0.3,0.2,0.4,10,0.95,\"bootstrap, seeded\",,,,,,permuted\n",
        )
        .unwrap();
        let rows = metric_rows(&CsvFile::read(&path).unwrap()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].shown(), Some(((0.45, 0.38, 0.53), true)));
        assert_eq!(rows[1].shown(), Some(((0.3, 0.2, 0.4), false)));
        assert_eq!(rows[1].method, "bootstrap, seeded");
        assert_eq!(rows[1].labels, "permuted");
        assert_eq!(rows[0].population, None);

        std::fs::write(
            &path,
            "protocol,model,metric,value,ci_low,ci_high\nhonest,A,auc,high,0.1,0.9\n",
        )
        .unwrap();
        let e = metric_rows(&CsvFile::read(&path).unwrap()).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("line 2") && msg.contains("`value`") && msg.contains("\"high\""),
            "{msg}"
        );
        std::fs::write(&path, "protocol,model,value\nhonest,A,0.5\n").unwrap();
        let e = metric_rows(&CsvFile::read(&path).unwrap()).unwrap_err();
        assert!(format!("{e:#}").contains("no column `metric`"), "{e:#}");
    }
}

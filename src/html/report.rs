//! The run's report, section by section, from the files of its directory.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use mias_eval::{Quoted, percent_with_interval};
use serde_json::Value;

use super::files::{CsvFile, MetricRow, json_if_present, listing, metric_rows, pooled_rows};
use super::markdown;
use super::page::{Cell, RowGroup, Table, escape, facts, figure, image_mime, link};

/// A section of the page: its anchor, heading and body.
pub(super) struct Section {
    pub id: String,
    pub heading: String,
    pub body: String,
}

impl Section {
    fn new(id: &str, heading: &str, body: String) -> Section {
        Section {
            id: id.into(),
            heading: heading.into(),
            body,
        }
    }

    pub(super) fn render(&self) -> String {
        format!(
            "<section id=\"{}\" aria-labelledby=\"{}-h\">\n<h2 id=\"{}-h\">{}</h2>\n{}</section>\n",
            escape(&self.id),
            escape(&self.id),
            escape(&self.id),
            escape(&self.heading),
            self.body
        )
    }
}

/// The metrics of the report's tables, in Table 2's order, with their column headings.
const METRICS: [(&str, &str); 6] = [
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Sensitivity (recall)"),
    ("f1", "F1"),
    ("specificity", "Specificity"),
    ("auc", "AUC"),
];

/// The headline's order: what decides first.
const HEADLINE_METRICS: [(&str, &str); 6] = [
    ("auc", "AUC"),
    ("recall", "Sensitivity"),
    ("specificity", "Specificity"),
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("f1", "F1"),
];

/// What a run directory holds, read once.
pub(super) struct Run<'a> {
    pub dir: &'a Path,
    pub record: Option<Value>,
    pub sweep_record: Option<Value>,
    pub paper: Vec<MetricRow>,
    pub lesion: Vec<MetricRow>,
}

impl<'a> Run<'a> {
    pub(super) fn read(dir: &'a Path) -> anyhow::Result<Run<'a>> {
        let rows = |name: &str| -> anyhow::Result<Vec<MetricRow>> {
            match CsvFile::read_if_present(&dir.join(name))? {
                Some(f) => metric_rows(&f),
                None => Ok(Vec::new()),
            }
        };
        Ok(Run {
            dir,
            record: json_if_present(&dir.join(crate::record::FILE))?,
            sweep_record: json_if_present(&dir.join("sweep.json"))?,
            paper: rows("metrics.csv")?,
            lesion: pooled_rows(rows("lesion/metrics.csv")?),
        })
    }

    /// Whether the directory holds anything the report is about.
    pub(super) fn is_empty(&self) -> bool {
        self.record.is_none()
            && self.sweep_record.is_none()
            && self.paper.is_empty()
            && self.lesion.is_empty()
            && !self.dir.join("sweep/sweep.md").is_file()
    }

    fn exists(&self, rel: &str) -> bool {
        self.dir.join(rel).is_file()
    }

    /// A figure file of the run inlined (the SVG when there is one, else the PNG), with a
    /// link to the file; `None` when neither exists.
    fn figure(&self, stem: &str, alt: &str, caption: &str) -> anyhow::Result<Option<String>> {
        for ext in ["svg", "png"] {
            let rel = format!("{stem}.{ext}");
            let path = self.dir.join(&rel);
            if path.is_file() {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let mime = image_mime(&rel).unwrap_or("image/png");
                let caption = format!("{} ({})", escape(caption), link(&rel, &rel));
                return Ok(Some(figure(mime, &bytes, alt, &caption)));
            }
        }
        Ok(None)
    }

    /// The labels the run's own figures are about: `real`, unless every row is of a run that
    /// is itself a negative control.
    fn main_labels(rows: &[MetricRow]) -> &'static str {
        if rows.iter().any(|r| r.labels == "real") || rows.is_empty() {
            "real"
        } else {
            "permuted"
        }
    }
}

/// A JSON value as text: strings as they are, numbers and booleans written out.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn code(s: &str) -> String {
    format!("<code>{}</code>", escape(s))
}

/// `YYYY-MM-DD HH:MM:SS UTC` of seconds since the Unix epoch. By hand (the civil-from-days
/// conversion of the proleptic Gregorian calendar): one conversion, and no date crate is a
/// dependency of the application.
fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The figure of `row` as a cell: `61.5 [55.1, 67.9]`, `n/a` when there is none.
fn figure_text(row: Option<&MetricRow>) -> String {
    match row.and_then(MetricRow::shown) {
        Some(((v, l, h), _)) => percent_with_interval(v, l, h),
        None => "n/a".into(),
    }
}

fn find<'r>(rows: &[&'r MetricRow], model: &str, metric: &str) -> Option<&'r MetricRow> {
    rows.iter()
        .find(|r| r.model == model && r.metric == metric)
        .copied()
}

/// Distinct values in first-appearance order.
fn distinct<'r>(values: impl Iterator<Item = &'r str>) -> Vec<&'r str> {
    let mut out: Vec<&str> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// How each shown figure's interval was computed, one line per metric.
fn interval_notes(rows: &[&MetricRow]) -> String {
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for (metric, label) in METRICS {
        let mut methods: Vec<String> = Vec::new();
        for r in rows.iter().filter(|r| r.metric == metric) {
            let m = match r.shown() {
                Some((_, true)) => format!(
                    "Student t over {} folds (mean over folds)",
                    r.folds.map_or("the".into(), |f| format!("{f}"))
                ),
                Some((_, false)) => r.method.clone(),
                None => continue,
            };
            if !m.is_empty() && !methods.contains(&m) {
                methods.push(m);
            }
        }
        if !methods.is_empty() {
            lines.push((label.to_string(), methods));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut s =
        String::from("<p class=\"note\">Figures in percent with 95% intervals. Intervals: ");
    let parts: Vec<String> = lines
        .iter()
        .map(|(l, m)| format!("{}: {}", escape(l), escape(&m.join("; "))))
        .collect();
    s.push_str(&parts.join(". "));
    s.push_str(".</p>\n");
    s
}

/// The run: what ran, on what, with which weights; what was not run and why; then the
/// circumstances (when, how long, where), which differ between two runs of one experiment.
pub(super) fn run_section(run: &Run<'_>) -> anyhow::Result<Section> {
    let mut body = String::new();
    match (&run.record, &run.sweep_record) {
        (Some(r), _) => body.push_str(&reproduce_record(r)),
        (None, Some(r)) => body.push_str(&sweep_record(r)),
        (None, None) => body.push_str(
            "<p class=\"warning\">This directory holds no run.json: the run's provenance (data, \
             weights and their SHA-256, revision, seeds, timings) cannot be shown. The figures \
             below are read from the result files that are here.</p>\n",
        ),
    }
    Ok(Section::new("run", "The run", body))
}

fn reproduce_record(r: &Value) -> String {
    let mut items: Vec<(String, String)> = Vec::new();
    let tool = format!(
        "{} {}",
        text(r.get("tool")).unwrap_or_else(|| "mias".into()),
        text(r.get("version")).unwrap_or_default()
    );
    items.push(("Program".into(), escape(&tool)));
    if let Some(rev) = text(at(r, &["git", "revision"])) {
        let dirty = match at(r, &["git", "dirty"]).and_then(Value::as_bool) {
            Some(true) => " (with uncommitted changes)",
            Some(false) => "",
            None => " (state unknown)",
        };
        items.push(("Revision".into(), format!("{}{dirty}", code(&rev))));
    }
    let methods: Vec<String> = r
        .get("methods")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| text(Some(m))).collect())
        .unwrap_or_default();
    let protocols: Vec<String> = r
        .get("protocols")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| text(Some(m))).collect())
        .unwrap_or_default();
    items.push((
        "Methods".into(),
        escape(&format!(
            "{}{}",
            methods.join(", "),
            if protocols.is_empty() {
                String::new()
            } else {
                format!(
                    " (the paper's under the {} protocols)",
                    protocols.join(", ")
                )
            }
        )),
    ));
    if let Some(d) = r.get("data") {
        let verified = match d.get("verified").and_then(Value::as_bool) {
            Some(true) => "verified against the official checksums",
            _ => "not verified against official checksums",
        };
        items.push((
            "Data".into(),
            format!(
                "{} ({}, {} images of {} women; labels {}: {} normal, {} abnormal; {verified})",
                code(&text(d.get("dir")).unwrap_or_default()),
                escape(&text(d.get("kind")).unwrap_or_else(|| "mini-mias".into())),
                escape(&text(d.get("images")).unwrap_or_default()),
                escape(&text(d.get("patients")).unwrap_or_else(|| "?".into())),
                escape(&text(r.get("label_variant")).unwrap_or_default()),
                escape(&text(d.get("normal")).unwrap_or_default()),
                escape(&text(d.get("abnormal")).unwrap_or_default()),
            ),
        ));
    }
    if let Some(c) = text(r.get("config_source")) {
        let mut v = escape(&c);
        if let Some(l) = text(at(r, &["lesion", "config_source"])) {
            let _ = write!(v, "; lesion method: {}", escape(&l));
        }
        items.push(("Configuration".into(), v));
    }
    if let Some(s) = r.get("seeds") {
        let mut v = format!(
            "experiment {}",
            escape(&text(s.get("experiment")).unwrap_or_default())
        );
        if let Some(p) = text(s.get("permutation_control")) {
            let _ = write!(v, "; permutation control {}", escape(&p));
        }
        if let Some(p) = text(s.get("permute_labels")) {
            let _ = write!(
                v,
                "; <strong>the whole run learnt labels permuted with seed {}</strong>",
                escape(&p)
            );
        }
        items.push(("Seeds".into(), v));
    }
    let device = format!(
        "{} ({} threads)",
        text(r.get("device")).unwrap_or_else(|| "cpu".into()),
        text(r.get("threads")).unwrap_or_else(|| "?".into())
    );
    items.push(("Device".into(), escape(&device)));
    let mut s = facts(&items);
    if text(at(r, &["seeds", "permute_labels"])).is_some() {
        s.push_str(
            "<p class=\"warning\">Negative control: every model of this run learnt permuted \
             labels; no figure here is a result about the real labels.</p>\n",
        );
    }

    // Members with their weights.
    let mut rows = Vec::new();
    for m in r
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        rows.push(vec![
            Cell::Text(text(m.get("name")).unwrap_or_default()),
            Cell::Text("paper".into()),
            Cell::Text(text(m.get("flavor")).unwrap_or_default()),
            Cell::Html(code(&text(m.get("weights_path")).unwrap_or_default())),
            Cell::Html(code(&text(m.get("weights_sha256")).unwrap_or_default())),
        ]);
    }
    for m in at(r, &["lesion", "members"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // The lesion record names a backbone as the command line does (`vgg16`); the table
        // shows the name the paper's rows use (`VGG16`).
        let backbone = text(m.get("backbone")).unwrap_or_default();
        let shown = backbone
            .parse::<mias_backbones::BackboneKind>()
            .map_or(backbone, |k| k.display_name().to_string());
        rows.push(vec![
            Cell::Text(shown),
            Cell::Text(format!(
                "lesion ({} x {} cells)",
                text(m.get("grid")).unwrap_or_default(),
                text(m.get("grid")).unwrap_or_default()
            )),
            Cell::Text(text(m.get("flavor")).unwrap_or_default()),
            Cell::Html(code(&text(m.get("weights_path")).unwrap_or_default())),
            Cell::Html(code(&text(m.get("weights_sha256")).unwrap_or_default())),
        ]);
    }
    if !rows.is_empty() {
        s.push_str(
            &Table::new(
                "Backbones and the weights they ran with",
                &["Backbone", "Method", "Flavor", "Weights file", "SHA-256"],
                rows,
            )
            .render(),
        );
    }

    // What was not run, and why.
    let mut not_run: Vec<String> = Vec::new();
    for n in r
        .get("not_run")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        not_run.push(format!(
            "paper method, {}: {}",
            text(n.get("backbone")).unwrap_or_default(),
            text(n.get("reason")).unwrap_or_default()
        ));
    }
    for n in at(r, &["lesion", "not_run"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        not_run.push(format!(
            "lesion method: {}",
            text(Some(n)).unwrap_or_default()
        ));
    }
    for m in ["paper", "lesion"] {
        if !methods.is_empty() && !methods.iter().any(|x| x == m) {
            not_run.push(format!(
                "the {m} method: not asked for (reproduce --methods {})",
                methods.join(",")
            ));
        }
    }
    s.push_str("<h3>Not run</h3>\n");
    if not_run.is_empty() {
        s.push_str("<p>Everything the configuration names ran.</p>\n");
    } else {
        s.push_str("<ul>");
        for n in &not_run {
            let _ = write!(s, "<li>{}</li>", escape(n));
        }
        s.push_str("</ul>\n");
    }
    s.push_str(&circumstances(r));
    s
}

/// When, how long, where: the part of the record that differs between two runs of the same
/// experiment (kept in one element, `#circumstances`).
fn circumstances(r: &Value) -> String {
    let mut items: Vec<(String, String)> = Vec::new();
    if let Some(t) = r.get("started_unix_s").and_then(Value::as_u64) {
        items.push(("Started".into(), escape(&utc(t))));
    }
    if let Some(c) = r.get("command").and_then(Value::as_array) {
        let words: Vec<String> = c.iter().filter_map(|w| text(Some(w))).collect();
        items.push(("Command".into(), code(&words.join(" "))));
    }
    if let Some(t) = r.get("timings_s").and_then(Value::as_object) {
        let parts: Vec<String> = t
            .iter()
            .filter_map(|(k, v)| {
                v.as_f64()
                    .map(|s| format!("{} {s:.1} s", k.replace('_', " ")))
            })
            .collect();
        items.push(("Seconds".into(), escape(&parts.join(", "))));
    }
    if let Some(s) = r.get("seconds").and_then(Value::as_f64) {
        items.push(("Seconds".into(), escape(&format!("{s:.1}"))));
    }
    if let Some(s) = at(r, &["lesion", "seconds"]).and_then(Value::as_f64) {
        items.push(("Lesion method".into(), escape(&format!("{s:.1} s"))));
    }
    for m in r
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = m.get("features");
        items.push((
            format!("{} features", text(m.get("name")).unwrap_or_default()),
            format!(
                "{} views, {} computed, cache {}",
                escape(&text(f.and_then(|f| f.get("items"))).unwrap_or_default()),
                escape(&text(f.and_then(|f| f.get("computed"))).unwrap_or_default()),
                code(&text(m.get("feature_cache")).unwrap_or_default())
            ),
        ));
    }
    if items.is_empty() {
        return String::new();
    }
    format!(
        "<div id=\"circumstances\"><h3>When, how long, where</h3>\n{}</div>\n",
        facts(&items)
    )
}

fn sweep_record(r: &Value) -> String {
    let mut items: Vec<(String, String)> = Vec::new();
    let tool = format!(
        "{} {}",
        text(r.get("tool")).unwrap_or_else(|| "mias leak-sweep".into()),
        text(r.get("version")).unwrap_or_default()
    );
    items.push(("Program".into(), escape(&tool)));
    if let Some(rev) = text(at(r, &["git", "revision"])) {
        items.push(("Revision".into(), code(&rev)));
    }
    let list = |k: &str| -> String {
        r.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| text(Some(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    items.push(("Views per image".into(), escape(&list("views"))));
    items.push(("Strengths".into(), escape(&list("strengths"))));
    if let Some(m) = text(r.get("strength_meaning")) {
        items.push(("Strength means".into(), escape(&m)));
    }
    items.push((
        "Seeds".into(),
        escape(&format!(
            "experiment {}; permutation control {}",
            text(r.get("seed")).unwrap_or_default(),
            text(r.get("permutation_control_seed")).unwrap_or_default()
        )),
    ));
    let mut s = facts(&items);
    let rows: Vec<Vec<Cell>> = r
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| {
            vec![
                Cell::Text(text(m.get("backbone")).unwrap_or_default()),
                Cell::Text(text(m.get("flavor")).unwrap_or_default()),
                Cell::Html(code(&text(m.get("weights")).unwrap_or_default())),
                Cell::Html(code(&text(m.get("sha256")).unwrap_or_default())),
            ]
        })
        .collect();
    if !rows.is_empty() {
        s.push_str(
            &Table::new(
                "Backbones and the weights they ran with",
                &["Backbone", "Flavor", "Weights file", "SHA-256"],
                rows,
            )
            .render(),
        );
    }
    let not_run = list("not_run");
    let _ = writeln!(
        s,
        "<h3>Not run</h3>\n<p>{}</p>",
        if not_run.is_empty() {
            "Everything the configuration names ran.".to_string()
        } else {
            escape(&not_run)
        }
    );
    s.push_str(&circumstances(r));
    s
}

/// The ordering key of a population: the film-level figures first.
fn population_order(p: &str) -> usize {
    match p {
        "films" => 0,
        "films_vs_normal_women" => 1,
        "women" => 2,
        _ => 3,
    }
}

/// The rows of `rows` grouped by population (one group, `None`, when the file has no such
/// column), in a fixed order.
fn by_population<'r>(rows: &[&'r MetricRow]) -> Vec<(Option<String>, Vec<&'r MetricRow>)> {
    let mut groups: Vec<(Option<String>, Vec<&MetricRow>)> = Vec::new();
    for r in rows {
        match groups.iter_mut().find(|(p, _)| *p == r.population) {
            Some((_, v)) => v.push(r),
            None => groups.push((r.population.clone(), vec![r])),
        }
    }
    groups.sort_by_key(|(p, _)| p.as_deref().map_or(0, population_order));
    groups
}

fn population_heading(p: &Option<String>) -> Option<String> {
    p.as_ref().map(|p| format!("Population: {p}"))
}

/// The lesion method's pre-specified score: `lesion+bilateral` when the run computed it (it
/// chose C and k), else `lesion`.
fn lesion_selection(rows: &[MetricRow]) -> &'static str {
    if rows.iter().any(|r| r.model.ends_with("lesion+bilateral")) {
        "lesion+bilateral"
    } else {
        "lesion"
    }
}

/// The headline: each method's pre-specified figures on each population, beside the figures
/// the paper claims and quotes.
pub(super) fn headline_section(run: &Run<'_>) -> anyhow::Result<Option<Section>> {
    if run.paper.is_empty() && run.lesion.is_empty() {
        return Ok(None);
    }
    let mut header = vec!["Model", "Method, protocol"];
    header.extend(HEADLINE_METRICS.iter().map(|(_, l)| *l));
    let numeric = 2..2 + HEADLINE_METRICS.len();
    let mut groups = Vec::new();

    // The literature (data/literature.csv, as Table 3 reads it).
    let literature = mias_eval::parse_literature(
        crate::paper::report::LITERATURE_CSV.as_bytes(),
        Path::new("data/literature.csv"),
    )?;
    let order = |metric: &str| match metric {
        "accuracy" => 0,
        "precision" => 1,
        "recall" => 2,
        "f1" => 3,
        "specificity" => 4,
        _ => 5,
    };
    let rows: Vec<Vec<Cell>> = literature
        .iter()
        .map(|l| {
            let mut row: Vec<Cell> = vec![l.source.clone().into(), l.reference.clone().into()];
            for (metric, _) in HEADLINE_METRICS {
                let q: &Quoted = &l.figures[order(metric)];
                row.push(q.display().into());
            }
            row
        })
        .collect();
    groups.push(RowGroup {
        heading: Some(
            "Claimed by the paper, and the figures it quotes (percent, as written)".into(),
        ),
        rows,
    });

    let paper_labels = Run::main_labels(&run.paper);
    let paper: Vec<&MetricRow> = run
        .paper
        .iter()
        .filter(|r| r.labels == paper_labels && r.model == "Ensemble")
        .collect();
    let selection = lesion_selection(&run.lesion);
    let lesion_labels = Run::main_labels(&run.lesion);
    // The configured headline run.json names (the women model, since issue 19); runs from
    // before it name none: the ensemble's selection variant was their method.
    let named = run
        .record
        .as_ref()
        .and_then(|r| r.pointer("/lesion/headline"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let lesion: Vec<&MetricRow> = run
        .lesion
        .iter()
        .filter(|r| {
            r.labels == lesion_labels
                && match &named {
                    Some(h) => &r.model == h,
                    None => r.model.ends_with(&format!(" {selection}")),
                }
        })
        .collect();
    let mut all: Vec<&MetricRow> = paper.clone();
    all.extend(&lesion);
    for (population, _) in by_population(&all) {
        let mut body = Vec::new();
        for (method, rows) in [("paper", &paper), ("lesion", &lesion)] {
            let rows: Vec<&MetricRow> = rows
                .iter()
                .filter(|r| r.population == population)
                .copied()
                .collect();
            for protocol in distinct(rows.iter().map(|r| r.protocol.as_str())) {
                let here: Vec<&MetricRow> = rows
                    .iter()
                    .filter(|r| r.protocol == protocol)
                    .copied()
                    .collect();
                for model in distinct(here.iter().map(|r| r.model.as_str())) {
                    let mut row: Vec<Cell> = vec![
                        model.into(),
                        match protocol {
                            "honest" => format!("{method}, honest (leakage-free)"),
                            p => format!("{method}, {p}"),
                        }
                        .into(),
                    ];
                    for (metric, _) in HEADLINE_METRICS {
                        row.push(figure_text(find(&here, model, metric)).into());
                    }
                    body.push(row);
                }
            }
        }
        groups.push(RowGroup {
            heading: population_heading(&population).or(Some("This run".into())),
            rows: body,
        });
    }
    let table = Table {
        caption: "Headline: each method's pre-specified figures beside the paper's claims".into(),
        header: header.iter().map(|h| h.to_string()).collect(),
        groups,
        numeric: numeric.collect(),
        id: Some("headline-table".into()),
    };
    let mut body = String::from(
        "<p>The paper's method: its ensemble under each protocol (the rows Table 3 sets beside \
         the paper); only the honest protocol keeps every test woman out of training. The lesion \
         method: every model's <code>",
    );
    body.push_str(&escape(selection));
    body.push_str(
        "</code> score, the one that chose its hyper-parameters. Percent with 95% intervals; the \
         paper method's honest figures are means over folds, the rest pooled.</p>\n",
    );
    if paper_labels == "permuted" || lesion_labels == "permuted" {
        body.push_str(
            "<p class=\"warning\">These figures come from permuted labels (a negative control \
             run): none is a result about the real labels.</p>\n",
        );
    }
    body.push_str(&table.render());
    body.push_str("<ul class=\"note\">");
    for l in &literature {
        let _ = write!(body, "<li>{}: {}</li>", escape(&l.source), escape(&l.note));
    }
    body.push_str("</ul>\n");
    body.push_str(&interval_notes(&all));
    Ok(Some(Section::new("headline", "Headline", body)))
}

/// One table per protocol: every model's six figures.
fn model_tables(rows: &[&MetricRow], caption: &dyn Fn(&str) -> String, id: &str) -> String {
    let mut s = String::new();
    let mut header = vec!["Model"];
    header.extend(METRICS.iter().map(|(_, l)| *l));
    for protocol in distinct(rows.iter().map(|r| r.protocol.as_str())) {
        let here: Vec<&MetricRow> = rows
            .iter()
            .filter(|r| r.protocol == protocol)
            .copied()
            .collect();
        let mut groups = Vec::new();
        for (population, rows) in by_population(&here) {
            let body: Vec<Vec<Cell>> = distinct(rows.iter().map(|r| r.model.as_str()))
                .into_iter()
                .map(|model| {
                    let mut row: Vec<Cell> = vec![model.into()];
                    for (metric, _) in METRICS {
                        row.push(figure_text(find(&rows, model, metric)).into());
                    }
                    row
                })
                .collect();
            groups.push(RowGroup {
                heading: population_heading(&population),
                rows: body,
            });
        }
        let table = Table {
            caption: caption(protocol),
            header: header.iter().map(|h| h.to_string()).collect(),
            groups,
            numeric: (1..=METRICS.len()).collect(),
            id: Some(format!("{id}-{protocol}")),
        };
        s.push_str(&table.render());
    }
    s.push_str(&interval_notes(rows));
    s
}

fn protocol_caption(protocol: &str) -> String {
    match protocol {
        "paper" => "paper protocol: augment first, one random split by item (copies of a test \
                    image and its woman's other breast leak into training)"
            .into(),
        "image" => "image protocol: one random split by image, training images augmented (the \
                    other breast leaks)"
            .into(),
        "honest" => "honest protocol: cross-validation grouped by woman, mean over folds \
                     (nothing leaks)"
            .into(),
        "official" => "official protocol: the collection's own train/test split".into(),
        other => format!("{other} protocol"),
    }
}

/// A section of one of the run's Markdown files, under a heading of the report's.
fn markdown_part(run: &Run<'_>, rel: &str, heading: &str, title: &str) -> anyhow::Result<String> {
    let path = run.dir.join(rel);
    if !path.is_file() {
        return Ok(String::new());
    }
    let md =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(match markdown::section(&md, heading) {
        Some(body) => format!(
            "<h3>{}</h3>\n{}<p class=\"note\">From {}.</p>\n",
            escape(title),
            markdown::to_html(&body, 2),
            link(rel, rel)
        ),
        None => String::new(),
    })
}

fn links(run: &Run<'_>, files: &[&str]) -> String {
    let present: Vec<String> = files
        .iter()
        .filter(|f| run.exists(f))
        .map(|f| link(f, f))
        .collect();
    if present.is_empty() {
        String::new()
    } else {
        format!("<p class=\"note\">Files: {}.</p>\n", present.join(", "))
    }
}

/// The paper's method: each protocol's models, the permutation control, what each leak adds,
/// what training shared with each test set, ROC curves and confusion matrices.
pub(super) fn paper_section(run: &Run<'_>) -> anyhow::Result<Option<Section>> {
    if run.paper.is_empty() {
        return Ok(None);
    }
    let labels = Run::main_labels(&run.paper);
    let main: Vec<&MetricRow> = run.paper.iter().filter(|r| r.labels == labels).collect();
    let mut body = String::from(
        "<p>A head on each frozen backbone's features, the ensemble the mean of their softmax \
         outputs. Each protocol's test items are its own: compare protocols by what leaks, not \
         by their figures alone.</p>\n",
    );
    body.push_str(&model_tables(&main, &|p| protocol_caption(p), "paper"));

    // The permutation control.
    let permuted: Vec<&MetricRow> = run
        .paper
        .iter()
        .filter(|r| r.labels == "permuted")
        .collect();
    if labels == "real" && !permuted.is_empty() {
        let mut rows = Vec::new();
        for protocol in distinct(main.iter().map(|r| r.protocol.as_str())) {
            let real: Vec<&MetricRow> = main
                .iter()
                .filter(|r| r.protocol == protocol)
                .copied()
                .collect();
            let perm: Vec<&MetricRow> = permuted
                .iter()
                .filter(|r| r.protocol == protocol)
                .copied()
                .collect();
            for model in distinct(real.iter().map(|r| r.model.as_str())) {
                rows.push(vec![
                    Cell::Text(format!("{model}, {protocol}")),
                    figure_text(find(&real, model, "auc")).into(),
                    figure_text(find(&perm, model, "auc")).into(),
                    figure_text(find(&real, model, "accuracy")).into(),
                    figure_text(find(&perm, model, "accuracy")).into(),
                ]);
            }
        }
        body.push_str(
            "<h3>The permutation control</h3>\n<p>The same protocols, splits, features \
            and head seeds with the labels permuted over women: nothing about mammograms can be \
            learnt from them, so an AUC away from 50 means the protocol lets a head recall labels \
            it has seen.</p>\n",
        );
        body.push_str(
            &Table::new(
                "Real against permuted labels",
                &[
                    "Model, protocol",
                    "AUC, real labels",
                    "AUC, permuted labels",
                    "Accuracy, real labels",
                    "Accuracy, permuted labels",
                ],
                rows,
            )
            .numeric(1..=4)
            .with_id("control")
            .render(),
        );
    }

    // What each leak adds: differences between protocols, in points.
    let protocols = distinct(main.iter().map(|r| r.protocol.as_str()));
    if ["paper", "image", "honest"]
        .iter()
        .all(|p| protocols.contains(p))
    {
        let value = |protocol: &str, model: &str, metric: &str| {
            main.iter()
                .find(|r| r.protocol == protocol && r.model == model && r.metric == metric)
                .and_then(|r| r.shown())
                .map(|((v, _, _), _)| 100.0 * v)
        };
        let diff = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:+.1}", a - b),
            _ => "n/a".into(),
        };
        let mut rows = Vec::new();
        for model in distinct(main.iter().map(|r| r.model.as_str())) {
            for (metric, label) in [("auc", "AUC"), ("accuracy", "Accuracy")] {
                let (p, i, h) = (
                    value("paper", model, metric),
                    value("image", model, metric),
                    value("honest", model, metric),
                );
                rows.push(vec![
                    Cell::Text(format!("{model}, {label}")),
                    diff(p, i).into(),
                    diff(i, h).into(),
                    diff(p, h).into(),
                ]);
            }
        }
        body.push_str(
            "<h3>What each leak adds</h3>\n<p>Differences of the figures above, in \
            points: copies of the test image (paper against image protocol), the other breast \
            (image against honest), both. Single splits are noisy: read these as directions.</p>\n",
        );
        body.push_str(
            &Table::new(
                "Points each leak adds",
                &[
                    "Model, figure",
                    "Copies of the image (paper - image)",
                    "The other breast (image - honest)",
                    "Both (paper - honest)",
                ],
                rows,
            )
            .numeric(1..=3)
            .render(),
        );
    }
    body.push_str(&markdown_part(
        run,
        "leakage.md",
        "What training shared with the test set",
        "What training shared with each test set",
    )?);
    body.push_str(&markdown_part(
        run,
        "leakage.md",
        "Audit of every part",
        "Audit of every part",
    )?);
    if let Some(f) = run.figure(
        "roc",
        "ROC curves of every model under each protocol, with the chance diagonal; the legend \
         gives each AUC with its interval",
        "ROC curves on the test items (honest: pooled out-of-fold)",
    )? {
        body.push_str("<h3>ROC curves</h3>\n");
        body.push_str(&f);
    }
    if let Some(f) = run.figure(
        "confusion",
        "Confusion matrices of every model under each protocol: counts of true and predicted \
         normal and abnormal items, shaded by their share of the row",
        "Confusion matrices at the configured threshold (honest: pooled out-of-fold)",
    )? {
        body.push_str("<h3>Confusion matrices</h3>\n");
        body.push_str(&f);
    }
    body.push_str(&links(
        run,
        &[
            "metrics.csv",
            "table2.md",
            "table3.md",
            "leakage.md",
            "predictions.csv",
        ],
    ));
    Ok(Some(Section::new("paper", "The paper's method", body)))
}

/// Info.txt's abnormality classes, by their code.
fn class_name(code: &str) -> String {
    match code.to_ascii_uppercase().as_str() {
        "NORM" => "normal".into(),
        "CALC" => "calcification".into(),
        "CIRC" => "circumscribed mass".into(),
        "SPIC" => "spiculated mass".into(),
        "MISC" => "ill-defined mass".into(),
        "ARCH" => "architectural distortion".into(),
        "ASYM" => "asymmetry".into(),
        other => other.to_string(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{:.1}", 100.0 * v))
}

fn interval(file: &CsvFile, i: usize, v: &str, l: &str, h: &str) -> anyhow::Result<String> {
    let get = |c: &str| -> anyhow::Result<Option<f64>> { file.number(i, file.require(c)?) };
    Ok(match (get(v)?, get(l)?, get(h)?) {
        (Some(v), Some(l), Some(h)) if v.is_finite() && l.is_finite() && h.is_finite() => {
            percent_with_interval(v, l, h)
        }
        _ => "n/a".into(),
    })
}

/// The lesion method: its models, per class, localisation, the choices of each fold, any
/// further table it wrote, ROC, and the heatmaps.
pub(super) fn lesion_section(run: &Run<'_>) -> anyhow::Result<Option<Section>> {
    if run.lesion.is_empty() {
        return Ok(None);
    }
    let labels = Run::main_labels(&run.lesion);
    let main: Vec<&MetricRow> = run.lesion.iter().filter(|r| r.labels == labels).collect();
    let mut body = String::from(
        "<p>Dense maps of the whole film, a cell classifier learnt on lesion discs against \
         normal breasts, each film scored by its hottest cells (minus its woman's other breast \
         for <code>lesion+bilateral</code>). Out-of-fold figures, the folds grouped by woman; \
         every interval is a bootstrap over women (a drawn woman brings all her films), each \
         film called at its fold's threshold (chosen on that fold's training women).</p>\n",
    );
    if labels == "permuted" {
        body.push_str(
            "<p class=\"warning\">Negative control: labels and lesions permuted over films; the \
             AUC should sit near 50.</p>\n",
        );
    }
    body.push_str(&model_tables(
        &main,
        &|_| "Every model and score, pooled out of fold".to_string(),
        "lesion",
    ));

    if let Some(f) = CsvFile::read_if_present(&run.dir.join("lesion/per_class.csv"))? {
        body.push_str(&per_class(&f)?);
    }
    if let Some(f) = CsvFile::read_if_present(&run.dir.join("lesion/localisation.csv"))? {
        let (model, images, hits, chance) = (
            f.require("model")?,
            f.require("images")?,
            f.require("hits")?,
            f.require("chance")?,
        );
        let mut rows = Vec::new();
        for i in 0..f.rows.len() {
            rows.push(vec![
                f.text(i, model).unwrap_or_default().into(),
                f.text(i, images).unwrap_or_default().into(),
                f.text(i, hits).unwrap_or_default().into(),
                interval(&f, i, "share", "ci_low", "ci_high")?.into(),
                pct(f.number(i, chance)?).into(),
            ]);
        }
        body.push_str(
            "<h3>Localisation</h3>\n<p>How often the hottest breast cell of an \
            abnormal film with coordinates (out of fold) lies on a lesion cell, beside the share \
            a breast cell drawn at random would reach.</p>\n",
        );
        body.push_str(
            &Table::new(
                "Hottest cell on the lesion",
                &["Backbone", "Films", "Hits", "Share (%)", "Chance (%)"],
                rows,
            )
            .numeric(1..=4)
            .render(),
        );
    }
    body.push_str(&markdown_part(
        run,
        "lesion/table.md",
        "Chosen in each fold",
        "Chosen in each fold by the inner cross-validation",
    )?);
    body.push_str(&other_tables(run)?);
    body.push_str(&other_runs(run)?);
    if let Some(f) = run.figure(
        "lesion/roc",
        "ROC curves of the lesion method's models out of fold, with the chance diagonal; the \
         legend gives each AUC with its interval",
        "ROC curves out of fold",
    )? {
        body.push_str("<h3>ROC curves</h3>\n");
        body.push_str(&f);
    }
    body.push_str(&heatmaps(run)?);
    body.push_str(&links(
        run,
        &[
            "lesion/metrics.csv",
            "lesion/table.md",
            "lesion/per_class.csv",
            "lesion/localisation.csv",
            "lesion/predictions.csv",
        ],
    ));
    Ok(Some(Section::new("lesion", "The lesion method", body)))
}

/// AUC per abnormality class: a row per class (its films against every normal film), a
/// column per model.
fn per_class(f: &CsvFile) -> anyhow::Result<String> {
    let (model, class) = (f.require("model")?, f.require("class")?);
    let (abn, norm) = (f.require("abnormal")?, f.require("normal")?);
    let models = distinct((0..f.rows.len()).filter_map(|i| f.text(i, model)));
    let classes = distinct((0..f.rows.len()).filter_map(|i| f.text(i, class)));
    let mut rows = Vec::new();
    for &c in &classes {
        let here: Vec<usize> = (0..f.rows.len())
            .filter(|&i| f.text(i, class) == Some(c))
            .collect();
        let first = here.first().copied();
        let count = |col: usize| first.and_then(|i| f.text(i, col)).unwrap_or("?");
        let mut row: Vec<Cell> = vec![Cell::Text(format!(
            "{} ({} films; {} normal)",
            class_name(c),
            count(abn),
            count(norm)
        ))];
        for &m in &models {
            row.push(match here.iter().find(|&&i| f.text(i, model) == Some(m)) {
                Some(&i) => interval(f, i, "auc", "ci_low", "ci_high")?.into(),
                None => "n/a".into(),
            });
        }
        rows.push(row);
    }
    let mut header = vec!["Class"];
    header.extend(models.iter().copied());
    let mut s = String::from("<h3>Per abnormality class</h3>\n");
    s.push_str(
        &Table::new(
            "AUC of each class's films against every normal film",
            &header,
            rows,
        )
        .numeric(1..=models.len())
        .render(),
    );
    Ok(s)
}

/// The files of `lesion/` the report has no section of its own for: every further CSV table
/// (e.g. paired comparisons, per-woman figures), shown whole up to 200 rows.
fn other_tables(run: &Run<'_>) -> anyhow::Result<String> {
    const KNOWN: [&str; 4] = [
        "metrics.csv",
        "per_class.csv",
        "localisation.csv",
        "predictions.csv",
    ];
    let dir = run.dir.join("lesion");
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".csv") && !KNOWN.contains(&n.as_str()))
            .collect(),
        Err(_) => return Ok(String::new()),
    };
    names.sort();
    let mut s = String::new();
    for name in names {
        let rel = format!("lesion/{name}");
        let f = CsvFile::read(&run.dir.join(&rel))?;
        let _ = writeln!(s, "<h3>{}</h3>", escape(&rel));
        if f.rows.len() > 200 || f.header.is_empty() {
            let _ = writeln!(s, "<p>{} rows: see {}.</p>", f.rows.len(), link(&rel, &rel));
            continue;
        }
        let rows: Vec<Vec<Cell>> = f
            .rows
            .iter()
            .map(|r| r.iter().map(|c| Cell::Text(c.clone())).collect())
            .collect();
        let header: Vec<&str> = f.header.iter().map(String::as_str).collect();
        s.push_str(&Table::new(format!("{rel}, as written"), &header, rows).render());
    }
    Ok(s)
}

/// Further runs of the lesion method kept inside this one (`lesion/<name>/metrics.csv`, e.g.
/// a negative control or another seed): each model's AUC, sensitivity and specificity.
fn other_runs(run: &Run<'_>) -> anyhow::Result<String> {
    let dir = run.dir.join("lesion");
    let mut subdirs: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("metrics.csv").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => return Ok(String::new()),
    };
    if subdirs.is_empty() {
        return Ok(String::new());
    }
    subdirs.sort();
    let mut rows = Vec::new();
    for sub in &subdirs {
        let rel = format!("lesion/{sub}/metrics.csv");
        let metrics = pooled_rows(metric_rows(&CsvFile::read(&run.dir.join(&rel))?)?);
        let refs: Vec<&MetricRow> = metrics.iter().collect();
        for model in distinct(refs.iter().map(|r| r.model.as_str())) {
            let label = refs
                .iter()
                .find(|r| r.model == model)
                .map_or("real", |r| r.labels.as_str());
            rows.push(vec![
                Cell::Html(format!(
                    "{} {}",
                    link(&rel, &format!("{sub}/")),
                    escape(model)
                )),
                label.into(),
                figure_text(find(&refs, model, "auc")).into(),
                figure_text(find(&refs, model, "recall")).into(),
                figure_text(find(&refs, model, "specificity")).into(),
            ]);
        }
    }
    let mut s = String::from(
        "<h3>Further runs kept beside this one</h3>\n<p>Directories inside <code>lesion/</code> \
         with metrics of their own (another seed, a negative control).</p>\n",
    );
    s.push_str(
        &Table::new(
            "Further runs of the lesion method",
            &["Run, model", "Labels", "AUC", "Sensitivity", "Specificity"],
            rows,
        )
        .numeric(2..=4)
        .render(),
    );
    Ok(s)
}

/// A heatmap file's parts: `{class}_{film}_{backbone}.png` (the film's name with `_` for
/// characters a file name cannot hold).
fn heatmap_parts(name: &str) -> Option<(&str, &str, &str)> {
    let stem = name.strip_suffix(".png")?;
    let (class, rest) = stem.split_once('_')?;
    let (film, backbone) = rest.rsplit_once('_')?;
    Some((class, film, backbone))
}

/// A film's name as its heatmap's file name spells it.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The colour scale of the heatmaps: the lesion method's colour map, 0 to 1.
pub(super) fn colour_scale() -> String {
    let stops: Vec<String> = (0..=10)
        .map(|i| {
            let p = f64::from(i) / 10.0;
            let [r, g, b] = crate::lesion::report::colour(p);
            format!("rgb({r}, {g}, {b}) {}%", i * 10)
        })
        .collect();
    format!(
        "<div class=\"scale\" role=\"img\" aria-label=\"Colour scale: a cell's probability of \
         lesion, from 0 (dark blue) through 0.5 (light blue to red) to 1 (yellow)\">\
         <div class=\"bar\" style=\"background: linear-gradient(to right, {})\"></div>\
         <div class=\"ticks\"><span>0</span><span>0.25</span><span>0.5</span><span>0.75</span>\
         <span>1</span></div><div class=\"note\">Cell probability of lesion (blended at 55% \
         over the film); green circles: Info.txt's lesions.</div></div>\n",
        stops.join(", ")
    )
}

/// The heatmaps of `lesion/heatmaps/`, a grid per class, each with its film's label, fold and
/// scores from `lesion/predictions.csv`.
fn heatmaps(run: &Run<'_>) -> anyhow::Result<String> {
    let dir = run.dir.join("lesion/heatmaps");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(String::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    if names.is_empty() {
        return Ok(String::new());
    }
    let classes = ["norm", "calc", "circ", "spic", "arch", "asym", "misc"];
    names.sort_by_key(|n| {
        let class = heatmap_parts(n).map_or("", |p| p.0);
        (
            classes
                .iter()
                .position(|c| *c == class)
                .unwrap_or(classes.len()),
            n.clone(),
        )
    });
    let predictions = CsvFile::read_if_present(&run.dir.join("lesion/predictions.csv"))?;
    let mut s = String::from(
        "<h3>Heatmaps</h3>\n<p>Out-of-fold cell probabilities over the film (the fold that held \
         the film out scored it), the first films of each class.</p>\n",
    );
    s.push_str(&colour_scale());
    s.push_str("<div class=\"heatmaps\">");
    for name in &names {
        let rel = format!("lesion/heatmaps/{name}");
        let (class, film, backbone) = heatmap_parts(name).unwrap_or(("", name, ""));
        let mut caption = format!(
            "<strong>{}</strong> ({})",
            escape(film),
            escape(&class_name(class))
        );
        let mut alt_label = String::new();
        if let Some(p) = &predictions
            && let Some(image) = p.column("image")
        {
            let row = (0..p.rows.len())
                .find(|&i| p.text(i, image).map(file_safe).as_deref() == Some(film));
            if let Some(i) = row {
                let get = |c: &str| p.column(c).and_then(|c| p.text(i, c));
                let label = match get("label") {
                    Some("1") => "abnormal",
                    Some("0") => "normal",
                    _ => "label unknown",
                };
                alt_label = label.to_string();
                let _ = write!(
                    caption,
                    " · {} · fold {}",
                    label,
                    escape(get("fold").unwrap_or("?"))
                );
                for variant in ["lesion", "lesion+bilateral"] {
                    let key = format!("{backbone}_{variant}");
                    if let Some(score) = get(&format!("score_{key}")) {
                        let call = match get(&format!("call_{key}")) {
                            Some("1") => "abnormal",
                            Some("0") => "normal",
                            _ => "?",
                        };
                        let score: String = score
                            .parse::<f64>()
                            .map_or(score.to_string(), |v| format!("{v:+.2}"));
                        let _ = write!(
                            caption,
                            " · {} score {} (called {call})",
                            escape(variant),
                            escape(&score)
                        );
                    }
                }
            }
        }
        let _ = write!(caption, " · {} · {}", escape(backbone), link(&rel, "file"));
        let path = run.dir.join(&rel);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let alt = format!(
            "Heatmap of film {film} ({}{}), {backbone}: out-of-fold cell probabilities of lesion \
             over the film, Info.txt's lesions circled in green",
            class_name(class),
            if alt_label.is_empty() {
                String::new()
            } else {
                format!(", {alt_label}")
            }
        );
        s.push_str(&figure("image/png", &bytes, &alt, &caption));
    }
    s.push_str("</div>\n");
    Ok(s)
}

/// The leak sweep: the directory itself when it is a sweep's, else its `sweep/`.
pub(super) fn sweep_section(run: &Run<'_>) -> anyhow::Result<Option<Section>> {
    let prefix = if run.sweep_record.is_some() {
        ""
    } else if run.exists("sweep/sweep.md") || run.exists("sweep/sweep.csv") {
        "sweep/"
    } else {
        return Ok(None);
    };
    let mut body = String::new();
    if let Some(f) = run.figure(
        &format!("{prefix}sweep"),
        "The paper protocol's AUC against copies per image, one line per augmentation strength, \
         real and permuted labels, beside the honest protocol's band",
        "The copies dial",
    )? {
        body.push_str(&f);
    }
    let md = run.dir.join(format!("{prefix}sweep.md"));
    if md.is_file() {
        let text =
            std::fs::read_to_string(&md).with_context(|| format!("reading {}", md.display()))?;
        body.push_str(&markdown::to_html(markdown::without_title(&text), 2));
    }
    let files: Vec<String> = ["sweep.csv", "sweep.md", "sweep.json"]
        .iter()
        .map(|f| format!("{prefix}{f}"))
        .collect();
    body.push_str(&links(
        run,
        &files.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    Ok(Some(Section::new("sweep", "The leak sweep", body)))
}

/// Every file of the directory, linked by relative path.
pub(super) fn files_section(run: &Run<'_>, skip: &str) -> anyhow::Result<Section> {
    let files = listing(run.dir, skip)?;
    let mut body = String::from(
        "<p>Every file of this directory; the links are relative, so they work wherever the \
         directory is copied.</p>\n<ul class=\"files\">",
    );
    // Per-model checkpoints are many and opaque: one line per folder of them.
    let mut folders_shown: Vec<String> = Vec::new();
    for (rel, _) in &files {
        if let Some(folder) = ["heads/", "lesion/models/"]
            .iter()
            .find(|f| rel.starts_with(**f))
        {
            if !folders_shown.iter().any(|f| f == folder) {
                folders_shown.push(folder.to_string());
                let n = files.iter().filter(|(r, _)| r.starts_with(folder)).count();
                let _ = write!(body, "<li>{} ({n} files)</li>", link(folder, folder));
            }
            continue;
        }
        let _ = write!(body, "<li>{}</li>", link(rel, rel));
    }
    body.push_str("</ul>\n");
    Ok(Section::new("files", "Files", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_known_instants() {
        // date -u -d @0, @951782400 (2000-02-29), @1700000000.
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn heatmap_names_split_into_class_film_and_backbone() {
        assert_eq!(
            heatmap_parts("circ_mdb001_vgg16.png"),
            Some(("circ", "mdb001", "vgg16"))
        );
        assert_eq!(
            heatmap_parts("calc_p_1_a.dcm_mobilenetv2.png"),
            Some(("calc", "p_1_a.dcm", "mobilenetv2"))
        );
        assert_eq!(file_safe("p/1 a.dcm"), "p_1_a.dcm");
    }
}

//! One self-contained HTML page per run (`report.html`), and one per film that `predict`
//! scores (`predict --html`).
//!
//! The run's page is built from the files of a finished run directory and nothing else, so
//! every figure in it comes from the rows of `metrics.csv` and `lesion/metrics.csv` (and the
//! other files it names), and `mias report --run DIR` rewrites it for any run, old or new.
//! Sections: the run (`run.json`: data, labels, seeds, weights with SHA-256, revision, what
//! was not run and why; then when, how long and where, in `#circumstances`, the only part
//! that differs between two runs of one experiment); the headline (each method's
//! pre-specified figures on each population the metrics carry, beside the paper's claims from
//! `data/literature.csv`); the paper's method (each protocol, the permutation control, what
//! each leak adds, what training shared with each test set, ROC and confusion figures); the
//! lesion method (its models, per class, localisation, the choices of each fold, any further
//! table of `lesion/`, ROC, heatmaps with their film, label, fold and scores); the leak sweep
//! when present; every file, linked by relative path.
//!
//! The page needs nothing beside it: the stylesheet is inline, figures are data URIs (SVG
//! where the run wrote one, else PNG), there is no script. Missing files leave their part
//! out; a file that is there but does not read is an error naming it.

mod files;
pub mod film;
mod markdown;
pub mod page;
mod report;

use std::path::Path;

use anyhow::bail;

/// The report's file name inside a run's directory.
pub const FILE: &str = "report.html";

/// The report of the run in `run_dir` as HTML.
pub fn render_report(run_dir: &Path) -> anyhow::Result<String> {
    files::check_dir(run_dir)?;
    let run = report::Run::read(run_dir)?;
    if run.is_empty() {
        bail!(
            "{}: no run.json, sweep.json, metrics.csv or lesion/metrics.csv: not a directory \
             written by `reproduce` or `leak-sweep`",
            run_dir.display()
        );
    }
    let mut sections = vec![report::run_section(&run)?];
    for s in [
        report::headline_section(&run)?,
        report::paper_section(&run)?,
        report::lesion_section(&run)?,
        report::sweep_section(&run)?,
    ]
    .into_iter()
    .flatten()
    {
        sections.push(s);
    }
    sections.push(report::files_section(&run, FILE)?);
    let nav: Vec<(String, String)> = sections
        .iter()
        .map(|s| (s.id.clone(), s.heading.clone()))
        .collect();
    let body: String = sections.iter().map(report::Section::render).collect();
    let title = if run.record.is_none() && run.sweep_record.is_some() {
        "mias leak sweep"
    } else {
        "mias run report"
    };
    let intro = "<p class=\"muted\">Written by <code>mias report</code> from the files of this \
                 directory: every figure is read from its <code>metrics.csv</code> and \
                 <code>lesion/metrics.csv</code> (and the files each section names). Open it \
                 offline in any browser; it needs nothing beside it.</p>";
    Ok(page::page(title, intro, &nav, &body))
}

/// Writes `run_dir/report.html` (atomically) from the files of the run in `run_dir`.
pub fn write_report(run_dir: &Path) -> anyhow::Result<()> {
    let html = render_report(run_dir)?;
    mias_core::fs::write_atomic(&run_dir.join(FILE), html.as_bytes())?;
    Ok(())
}

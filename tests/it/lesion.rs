//! The lesion method end to end on generated films with planted lesions at known places,
//! through the real MobileNetV2 weights of ../shared.
//!
//! Checked against the generator, not against the code under test: the planted films rank
//! first (AUC recounted from predictions.csv), the hottest cell of each planted film lies on
//! its planted disc as often as localisation.csv says (recounted from the generator's centres),
//! women.csv and the women population's AUC recounted from predictions.csv, the label
//! permutation of the negative control moves every label to another film, and with both
//! methods comparisons.csv sets each method's own figures side by side on the same folds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{GrayImage, Luma};

const SIDE: u32 = 1024;

/// The shared weights directory, when it holds the real MobileNetV2 weights this test runs
/// with; else `SKIPPED` (a failure under `MIAS_REQUIRE_DATA=1`).
fn shared_weights(test: &str) -> Option<PathBuf> {
    mias_core::skip::shared_file(test, "weights/mobilenetv2.coral.safetensors")
        .and_then(|f| f.parent().map(PathBuf::from))
}

/// 20 women, 40 films; 14 films carry a planted lesion.
fn planted(n: u16) -> Option<(f64, f64, f64)> {
    let woman = n.div_ceil(2);
    let abnormal =
        (woman.is_multiple_of(3) && n % 2 == 1) || [2, 8, 14, 22, 28, 34, 40].contains(&n);
    abnormal.then(|| {
        // Inside the breast (the left half-disc), moving with the film.
        let row = 250.0 + f64::from((n * 37) % 500);
        let col = 80.0 + f64::from((n * 53) % 250);
        (row, col, 45.0)
    })
}

/// A 1024-px film: a textured half-disc of breast on the left, a small bright label far
/// right, and a bright disc where a lesion is planted.
fn film(n: u16) -> GrayImage {
    let mut state = u32::from(n).wrapping_mul(2_654_435_761) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 41) as i32 - 20
    };
    let lesion = planted(n);
    GrayImage::from_fn(SIDE, SIDE, |x, y| {
        let (xf, yf) = (f64::from(x), f64::from(y));
        let breast = (xf.powi(2) + (yf - 512.0).powi(2)).sqrt() < 480.0;
        let mut v = if breast {
            110 + ((xf / 40.0).sin() * 15.0) as i32 + noise()
        } else if (900..960).contains(&x) && (80..120).contains(&y) {
            240
        } else {
            4
        };
        if let Some((row, col, r)) = lesion {
            let d = ((yf - row).powi(2) + (xf - col).powi(2)).sqrt();
            if d < r {
                v = 235 + noise() / 4;
            }
        }
        Luma([v.clamp(0, 255) as u8])
    })
}

fn make_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut info = String::from("generated: REFNUM BG CLASS SEVERITY X Y RADIUS\n");
    for n in 1..=40u16 {
        match planted(n) {
            // Info.txt's origin is the bottom-left corner: y = 1023 - row.
            Some((row, col, r)) => info.push_str(&format!(
                "mdb{n:03} F CIRC B {} {} {}\n",
                col as u32,
                1023 - row as u32,
                r as u32
            )),
            None => info.push_str(&format!("mdb{n:03} F NORM \n")),
        }
        film(n).save(dir.join(format!("mdb{n:03}.png"))).unwrap();
    }
    std::fs::write(dir.join("Info.txt"), info).unwrap();
}

const CONFIG: &str = r#"
seed = 3
labels = "official"
backbones = ["mobilenetv2"]
side = 256
headline = "ensemble"

[cells]
negatives_per_view = 8

[classifier]
c_grid = [0.01]
top_k_grid = [1, 2]
inner_folds = 3
tol = 1e-4
max_iter = 300

[evaluation]
folds = 4
bootstrap_replicates = 200
heatmaps_per_class = 1
"#;

fn mias(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mias"))
        .args(args)
        .env("MIAS_OFFLINE", "1")
        .env("MIAS_CACHE_DIR", cache)
        .env("HF_HUB_CACHE", cache.join("hf"))
        .output()
        .expect("running mias")
}

fn run_lesion(root: &Path, weights: &Path, out: &str, extra: &[&str]) -> PathBuf {
    run_lesion_on(root, "data", weights, out, extra)
}

/// `reproduce --methods lesion` on the dataset `root/data`.
fn run_lesion_on(root: &Path, data: &str, weights: &Path, out: &str, extra: &[&str]) -> PathBuf {
    run_lesion_logged(root, data, weights, out, extra).0
}

/// [`run_lesion_on`], with what the run printed on stderr.
fn run_lesion_logged(
    root: &Path,
    data: &str,
    weights: &Path,
    out: &str,
    extra: &[&str],
) -> (PathBuf, String) {
    let data = root.join(data);
    let out = root.join(out);
    let mut args: Vec<String> = [
        "reproduce",
        "--unofficial",
        "--methods",
        "lesion",
        "--data",
        &data.display().to_string(),
        "--lesion-config",
        &root.join("lesion.toml").display().to_string(),
        "--weights-dir",
        &weights.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = mias(&refs, &root.join("cache"));
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    (out, stderr)
}

/// predictions.csv as rows of (column name -> value).
fn rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            head.iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

/// Mann-Whitney AUC by counting pairs (ties 1/2).
fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut s = 0.0;
    for p in pos {
        for n in neg {
            s += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    s / (pos.len() * neg.len()) as f64
}

#[test]
fn planted_lesions_are_found_ranked_first_and_localised() {
    let Some(weights) = shared_weights("planted_lesions_are_found_ranked_first_and_localised")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    make_dataset(&root.join("data"));
    std::fs::write(root.join("lesion.toml"), CONFIG).unwrap();
    let out = run_lesion(root, &weights, "out", &[]);
    let dir = out.join("lesion");
    for f in [
        "metrics.csv",
        "per_class.csv",
        "localisation.csv",
        "table.md",
        "predictions.csv",
        "women.csv",
        "roc.png",
        "roc.svg",
        "models/lesion.json",
        "models/mobilenetv2.safetensors",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let preds = rows(&dir.join("predictions.csv"));
    assert_eq!(preds.len(), 40);
    let (mut pos, mut neg) = (vec![], vec![]);
    let (mut hits, mut planted_n) = (0, 0);
    for r in &preds {
        let n: u16 = r["image"].trim_start_matches("mdb").parse().unwrap();
        assert_eq!(r["label"], if planted(n).is_some() { "1" } else { "0" });
        let s: f64 = r["score_mobilenetv2_lesion"].parse().unwrap();
        if planted(n).is_some() {
            pos.push(s);
        } else {
            neg.push(s);
        }
        if let Some((row, col, radius)) = planted(n) {
            planted_n += 1;
            let grid: f64 = r["mobilenetv2_grid"].parse().unwrap();
            let cell = f64::from(SIDE) / grid;
            let hr: f64 = r["mobilenetv2_hottest_row"].parse().unwrap();
            let hc: f64 = r["mobilenetv2_hottest_col"].parse().unwrap();
            // Cell centres in pixel-index coordinates: r * s + (s - 1) / 2.
            let (cy, cx) = (
                hr * cell + (cell - 1.0) / 2.0,
                hc * cell + (cell - 1.0) / 2.0,
            );
            let d = ((cy - row).powi(2) + (cx - col).powi(2)).sqrt();
            hits += usize::from(d <= radius.max(cell));
        }
    }
    let a = auc(&pos, &neg);
    assert!(a >= 0.9, "planted films should rank first: AUC {a}");
    let loc = std::fs::read_to_string(dir.join("localisation.csv")).unwrap();
    let line = loc.lines().nth(1).unwrap();
    let f: Vec<&str> = line.split(',').collect();
    assert_eq!(f[0], "MobileNetV2");
    assert_eq!(f[1].parse::<usize>().unwrap(), planted_n);
    assert_eq!(f[2].parse::<usize>().unwrap(), hits, "{loc}");
    assert!(
        hits * 10 >= planted_n * 7,
        "{hits} of {planted_n} localised"
    );
    // The AUC in metrics.csv is the one recounted here.
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let row = metrics
        .lines()
        .find(|l| l.starts_with("honest,MobileNetV2 lesion,auc,"))
        .unwrap();
    let v: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
    assert!((v - a).abs() < 1e-12, "{v} vs {a}");
    assert!(row.ends_with(",films,real"), "{row}");

    // The headline is the configured method (one backbone, bilateral: the ensemble of
    // lesion+bilateral); predictions.csv's `score` is its out-of-fold score.
    for r in &preds {
        assert_eq!(
            r["score"], r["score_ensemble_lesion+bilateral"],
            "{}",
            r["image"]
        );
    }
    // women.csv: one row per woman, abnormal when any film is, her score the larger of her
    // two films' (recounted here from predictions.csv), the fold of her films.
    let women = rows(&dir.join("women.csv"));
    assert_eq!(women.len(), 20);
    let mut by_woman: std::collections::BTreeMap<String, (bool, f64, String)> = Default::default();
    for r in &preds {
        let s: f64 = r["score"].parse().unwrap();
        let e = by_woman.entry(r["woman"].clone()).or_insert((
            false,
            f64::NEG_INFINITY,
            r["fold"].clone(),
        ));
        assert_eq!(e.2, r["fold"], "woman {}: films in one fold", r["woman"]);
        *e = (e.0 || r["label"] == "1", e.1.max(s), e.2.clone());
    }
    for w in &women {
        let (abnormal, score, fold) = &by_woman[&w["woman"]];
        assert_eq!(
            w["label"],
            if *abnormal { "1" } else { "0" },
            "woman {}",
            w["woman"]
        );
        assert_eq!(
            w["score"].parse::<f64>().unwrap(),
            *score,
            "woman {}",
            w["woman"]
        );
        assert_eq!(&w["fold"], fold);
    }
    // metrics.csv's women AUC is the AUC of women.csv (recounted here); every model has the
    // three populations, every interval the bootstrap over the 20 women.
    let (wp, wn): (Vec<_>, Vec<_>) = women.iter().partition(|w| w["label"] == "1");
    let score =
        |w: &&std::collections::HashMap<String, String>| -> f64 { w["score"].parse().unwrap() };
    let women_auc = auc(
        &wp.iter().map(score).collect::<Vec<_>>(),
        &wn.iter().map(score).collect::<Vec<_>>(),
    );
    let row = metrics
        .lines()
        .find(|l| {
            l.starts_with("honest,Ensemble lesion+bilateral,auc,") && l.ends_with(",women,real")
        })
        .unwrap();
    let v: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
    assert!((v - women_auc).abs() < 1e-12, "{v} vs {women_auc}");
    for p in ["films", "films_vs_normal_women", "women"] {
        let n = metrics
            .lines()
            .filter(|l| l.ends_with(&format!(",{p},real")) && l.contains(",auc,"))
            .count();
        assert_eq!(
            n, 4,
            "{p}: MobileNetV2 and the ensemble, lesion and lesion+bilateral"
        );
    }
    assert!(
        metrics
            .lines()
            .skip(1)
            .all(|l| l.contains("bootstrap over 20 clusters") || l.contains(",undefined,")),
        "{metrics}"
    );
    let table = std::fs::read_to_string(dir.join("table.md")).unwrap();
    assert!(
        table.contains("| **Ensemble lesion+bilateral (method)** | women | "),
        "{table}"
    );

    let f32_maps = served_maps_are_the_trained_maps(root, &out, &weights);

    // The same run in bf16: recorded, cached under its own key, served as trained (the
    // plumbing; the kernels' precision has its own parity tests in mias-backbones). The maps
    // differ from f32's (the precision is applied) and keep their direction: cosine > 0.99.
    // (Measured here, MobileNetV2's last map at 256 px: relative L2 error 8.2e-2.)
    let bf16 = run_lesion(root, &weights, "bf16", &["--precision", "bf16"]);
    let record = std::fs::read_to_string(bf16.join("run.json")).unwrap();
    assert!(record.contains("\"precision\": \"bf16\""), "{record}");
    let bf16_maps = served_maps_are_the_trained_maps(root, &bf16, &weights);
    for (a, b) in f32_maps.iter().zip(&bf16_maps) {
        let dot: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let cosine = dot / (norm(a) * norm(b));
        assert!(a != b, "bf16 gave the f32 map");
        assert!(cosine > 0.99, "bf16 map cosine {cosine:.4}");
    }

    // The negative control: women permuted as units, each woman's right film carrying the
    // right film of another woman and her left film that woman's left film; recorded.
    let out = run_lesion(root, &weights, "permuted", &["--permute-labels", "11"]);
    let preds = rows(&out.join("lesion/predictions.csv"));
    let moved = preds
        .iter()
        .filter(|r| r["image"] != r["label_from"])
        .count();
    assert!(
        moved >= 30,
        "{moved} of 40 films carry another film's label"
    );
    let mut source_of: std::collections::BTreeMap<u16, std::collections::BTreeSet<u16>> =
        Default::default();
    for r in &preds {
        let n: u16 = r["image"].trim_start_matches("mdb").parse().unwrap();
        let from: u16 = r["label_from"].trim_start_matches("mdb").parse().unwrap();
        assert_eq!(r["label"], if planted(from).is_some() { "1" } else { "0" });
        assert_eq!(n % 2, from % 2, "{n} takes {from}: the same side");
        source_of
            .entry(n.div_ceil(2))
            .or_default()
            .insert(from.div_ceil(2));
    }
    assert!(source_of.values().all(|s| s.len() == 1), "{source_of:?}");
    let record = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(record.contains("\"permute_labels\": 11"), "{record}");
    let metrics = std::fs::read_to_string(out.join("lesion/metrics.csv")).unwrap();
    assert!(metrics.lines().skip(1).all(|l| l.ends_with(",permuted")));
}

/// `predict`'s map of a training film (read from its file as `predict` reads it, through the
/// saved model's member) is the map the run trained on (the feature cache's entry), to the bit.
/// Returns the maps of mdb003 and mdb004.
fn served_maps_are_the_trained_maps(root: &Path, out: &Path, weights: &Path) -> Vec<Vec<f32>> {
    use mias::lesion::{maps, saved};
    let models = saved::load(&out.join("lesion/models")).unwrap();
    let m = &models.members[0];
    let lookup = saved::WeightsLookup { dir: Some(weights) };
    let options = mias_data::OpenOptions {
        official: false,
        side: None,
    };
    let ds = mias_data::Dataset::open_with(root.join("data"), &options).unwrap();
    let member = mias::members::locate_run_weights(
        m.backbone.parse().unwrap(),
        m.flavor.parse().unwrap(),
        m.precision.parse().unwrap(),
        &m.weights_path,
        &m.weights_sha256,
        Some(weights),
    )
    .unwrap();
    let key = maps::dense_key(&member, maps::spec(m.side), &ds);
    let cache = mias::cache::FeatureCache::new(root.join("cache/features")).for_dataset(&ds);
    let mut maps = Vec::new();
    for n in [3, 4] {
        let id = ds.find(&format!("mdb{n:03}")).unwrap();
        let film = mias::inference::read_image(&root.join(format!("data/mdb{n:03}.png"))).unwrap();
        let served = saved::film_map(m, &film, &lookup, &candle_core::Device::Cpu).unwrap();
        let trained = match cache.get(&key, id, 0, served.len()).unwrap() {
            mias::cache::Entry::Present(v) => v,
            other => panic!("mdb{n:03}: the run's map is not in the cache: {other:?}"),
        };
        let same = served
            .iter()
            .zip(&trained)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same && served.len() == trained.len(),
            "mdb{n:03}: served map differs"
        );
        maps.push(served);
    }
    maps
}

/// The same films as a manifest collection: `films/fNN.png`, woman `k` named `k` (as
/// predictions.csv numbers Mini-MIAS's women), right breast odd, view MLO, each planted lesion
/// `benign` at its (column, row) with its radius, top-left origin.
fn make_manifest_dataset(dir: &Path) {
    make_manifest_dataset_with(dir, |n| n.div_ceil(2));
}

/// As [`make_manifest_dataset`], film `n` belonging to woman `woman(n)`.
fn make_manifest_dataset_with(dir: &Path, woman: impl Fn(u16) -> u16) {
    std::fs::create_dir_all(dir.join("films")).unwrap();
    let mut csv = String::from("image,patient,laterality,view,label,x,y,radius\n");
    for n in 1..=40u16 {
        let side = if n % 2 == 1 { "R" } else { "L" };
        let lesion = match planted(n) {
            Some((row, col, r)) => format!("benign,{},{},{}", col as u32, row as u32, r as u32),
            None => "normal,,,".to_string(),
        };
        csv.push_str(&format!(
            "films/f{n:02}.png,{},{side},MLO,{lesion}\n",
            woman(n)
        ));
        film(n)
            .save(dir.join(format!("films/f{n:02}.png")))
            .unwrap();
    }
    std::fs::write(dir.join("manifest.csv"), csv).unwrap();
}

#[test]
fn a_manifest_of_the_same_films_gives_the_same_lesion_scores() {
    let Some(weights) = shared_weights("a_manifest_of_the_same_films_gives_the_same_lesion_scores")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    make_dataset(&root.join("data"));
    make_manifest_dataset(&root.join("collection"));
    std::fs::write(root.join("lesion.toml"), CONFIG).unwrap();
    let a = run_lesion(root, &weights, "mias", &[]).join("lesion");
    let b = run_lesion_on(root, "collection", &weights, "manifest", &[]).join("lesion");
    // Films named by the manifest's path; everything else the same, to the last digit.
    let rename = |text: String| -> String {
        text.lines()
            .map(|l| {
                l.split(',')
                    .map(
                        |f| match f.strip_prefix("mdb").and_then(|d| d.parse::<u16>().ok()) {
                            Some(n) => format!("films/f{n:02}.png"),
                            None => f.to_string(),
                        },
                    )
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
    let expected = rename(read(a.join("predictions.csv")));
    assert_eq!(expected.lines().count(), 41);
    assert_eq!(rename(read(b.join("predictions.csv"))), expected);
    for file in ["metrics.csv", "localisation.csv"] {
        assert_eq!(read(b.join(file)), read(a.join(file)), "{file}");
    }
}

#[test]
fn films_without_the_other_breast_are_scored_alone_when_the_config_says_so() {
    let Some(weights) =
        shared_weights("films_without_the_other_breast_are_scored_alone_when_the_config_says_so")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // Every film its own woman: no film has an other breast.
    make_manifest_dataset_with(&root.join("collection"), |n| n);
    std::fs::write(root.join("lesion.toml"), CONFIG).unwrap();
    let args = |out: &str| -> Vec<String> {
        [
            "reproduce",
            "--methods",
            "lesion",
            "--data",
            &root.join("collection").display().to_string(),
            "--lesion-config",
            &root.join("lesion.toml").display().to_string(),
            "--weights-dir",
            &weights.display().to_string(),
            "--out",
            &root.join(out).display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // The committed default scores against the other breast: the run stops and says why.
    let a = args("bilateral");
    let o = mias(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &root.join("cache"),
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("has no other breast") && err.contains("classifier.bilateral = false"),
        "{err}"
    );
    assert!(!root.join("bilateral").exists());
    // Films alone: the planted films still rank first, and no bilateral score is written.
    std::fs::write(
        root.join("lesion.toml"),
        CONFIG.replacen("max_iter = 300", "max_iter = 300\nbilateral = false", 1),
    )
    .unwrap();
    let a = args("alone");
    let o = mias(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &root.join("cache"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let preds = rows(&root.join("alone/lesion/predictions.csv"));
    assert_eq!(preds.len(), 40);
    assert!(
        preds[0].keys().all(|k| !k.contains("bilateral")),
        "{:?}",
        preds[0].keys()
    );
    let (mut pos, mut neg) = (vec![], vec![]);
    for r in &preds {
        let n: u16 = r["image"]
            .trim_start_matches("films/f")
            .trim_end_matches(".png")
            .parse()
            .unwrap();
        let s: f64 = r["score_mobilenetv2_lesion"].parse().unwrap();
        if planted(n).is_some() {
            pos.push(s)
        } else {
            neg.push(s)
        }
    }
    let a = auc(&pos, &neg);
    assert!(a >= 0.9, "planted films should rank first: AUC {a}");
    let table = std::fs::read_to_string(root.join("alone/lesion/table.md")).unwrap();
    assert!(table.contains("inner AUC (lesion)"), "{table}");
}

/// One column of a CSV row by name (fields in double quotes may hold commas).
fn field(header: &[&str], row: &str, name: &str) -> String {
    let i = header.iter().position(|h| *h == name).unwrap();
    let (mut fields, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in row.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields[i].clone()
}

#[test]
fn both_methods_are_compared_on_the_same_films_and_folds() {
    let Some(weights) = shared_weights("both_methods_are_compared_on_the_same_films_and_folds")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    make_dataset(&root.join("data"));
    std::fs::write(root.join("lesion.toml"), CONFIG).unwrap();
    // The paper method's test config with the lesion config's seed: the same folds.
    let paper = crate::reproduce::CONFIG.replacen("seed = 7", "seed = 3", 1);
    assert!(paper.contains("seed = 3") && CONFIG.contains("seed = 3"));
    std::fs::write(root.join("paper.toml"), paper).unwrap();
    let out = run_lesion(
        root,
        &weights,
        "both",
        &[
            "--methods",
            "paper,lesion",
            "--protocol",
            "honest",
            "--config",
            &root.join("paper.toml").display().to_string(),
        ],
    );
    let text = std::fs::read_to_string(out.join("comparisons.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<&str> = lines.collect();
    let populations: Vec<String> = rows
        .iter()
        .map(|r| field(&header, r, "population"))
        .collect();
    assert_eq!(populations, ["films", "films_vs_normal_women", "women"]);
    for r in &rows {
        assert_eq!(field(&header, r, "model_a"), "paper: Ensemble");
        assert_eq!(
            field(&header, r, "model_b"),
            "lesion: Ensemble lesion+bilateral"
        );
        assert!(r.ends_with(",true"), "the same folds: {r}");
        let (a, b, d): (f64, f64, f64) = (
            field(&header, r, "auc_a").parse().unwrap(),
            field(&header, r, "auc_b").parse().unwrap(),
            field(&header, r, "difference").parse().unwrap(),
        );
        assert!((d - (b - a)).abs() < 1e-12, "{r}");
    }
    // DeLong only on women (one case each); the films are clustered in women.
    assert!(rows[2].contains("DeLong applies"), "{}", rows[2]);
    assert!(!field(&header, rows[2], "delong_low").is_empty());
    assert!(rows[0].contains("DeLong not applicable"), "{}", rows[0]);
    assert!(field(&header, rows[0], "delong_low").is_empty());
    // The two AUCs on every film are each method's own figure in its metrics.csv.
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let row = metrics
        .lines()
        .find(|l| l.starts_with("honest,Ensemble,auc,") && l.ends_with(",films,real"))
        .unwrap();
    let paper: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
    let a: f64 = field(&header, rows[0], "auc_a").parse().unwrap();
    assert!((a - paper).abs() < 1e-12, "{a} vs {paper}");
    let lesion = std::fs::read_to_string(out.join("lesion/metrics.csv")).unwrap();
    let row = lesion
        .lines()
        .find(|l| {
            l.starts_with("honest,Ensemble lesion+bilateral,auc,") && l.ends_with(",films,real")
        })
        .unwrap();
    let v: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
    let b: f64 = field(&header, rows[0], "auc_b").parse().unwrap();
    assert!((b - v).abs() < 1e-12, "{b} vs {v}");
}

/// Women of the symmetric dataset: 20 women, films `mdb(2k-1)` (right) and `mdb(2k)` (left).
/// Women 2, 5, 8, 11, 14, 17 have a lesion on one breast (right for even k, left for odd), woman
/// 20 the same lesion on both breasts; the other 13 are normal.
fn symmetric_lesion(woman: u16) -> Option<(f64, f64, f64, [bool; 2])> {
    let sides = match woman {
        20 => [true, true],
        k if k % 3 == 2 => [k % 2 == 0, k % 2 == 1],
        _ => return None,
    };
    // In the film turned chest wall left: inside the breast (a half-disc at the left edge).
    let row = 300.0 + f64::from((woman * 41) % 400);
    let col = 90.0 + f64::from((woman * 59) % 220);
    Some((row, col, 45.0, sides))
}

/// Woman `k`'s breast turned chest wall left: her own texture (the same for both breasts), a
/// bright lesion disc when `lesion`. A right film is this image mirrored.
fn symmetric_breast(woman: u16, lesion: bool) -> GrayImage {
    let mut state = u32::from(woman).wrapping_mul(2_654_435_761) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 41) as i32 - 20
    };
    let period = 30.0 + f64::from(woman % 5) * 6.0;
    let disc = symmetric_lesion(woman).filter(|_| lesion);
    GrayImage::from_fn(SIDE, SIDE, |x, y| {
        let (xf, yf) = (f64::from(x), f64::from(y));
        // One draw per pixel, lesion or not: the texture is the same with and without one.
        let n = noise();
        let breast =
            (xf.powi(2) + (yf - 512.0).powi(2)).sqrt() < 470.0 + f64::from(woman % 4) * 8.0;
        let mut v = if breast {
            105 + (woman % 7) as i32 * 3 + ((yf / period).sin() * 14.0) as i32 + n
        } else {
            4
        };
        if let Some((row, col, r, _)) = disc
            && ((yf - row).powi(2) + (xf - col).powi(2)).sqrt() < r
        {
            v = 235 + n / 4;
        }
        Luma([v.clamp(0, 255) as u8])
    })
}

/// The symmetric dataset in Mini-MIAS form: right films mirrored, Info.txt in each film's own
/// coordinates (origin bottom left).
fn make_symmetric_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut info = String::from("generated: REFNUM BG CLASS SEVERITY X Y RADIUS\n");
    for n in 1..=40u16 {
        let woman = n.div_ceil(2);
        let right = n % 2 == 1;
        let lesion = symmetric_lesion(woman).filter(|l| l.3[usize::from(!right)]);
        let turned = symmetric_breast(woman, lesion.is_some());
        let img = if right {
            image::imageops::flip_horizontal(&turned)
        } else {
            turned
        };
        img.save(dir.join(format!("mdb{n:03}.png"))).unwrap();
        match lesion {
            Some((row, col, r, _)) => {
                let x = if right { 1023.0 - col } else { col };
                info.push_str(&format!(
                    "mdb{n:03} F CIRC B {} {} {}\n",
                    x as u32,
                    1023 - row as u32,
                    r as u32
                ));
            }
            None => info.push_str(&format!("mdb{n:03} F NORM \n")),
        }
    }
    std::fs::write(dir.join("Info.txt"), info).unwrap();
}

/// The women model as the headline, on MobileNetV2's maps (the committed config uses VGG16's;
/// MobileNetV2 keeps this test within seconds a map).
const WOMEN_CONFIG: &str = r#"
seed = 3
labels = "official"
backbones = ["mobilenetv2"]
side = 512
headline = "women"

[cells]
negatives_per_view = 8

[classifier]
c_grid = [0.01]
top_k_grid = [1, 2]
inner_folds = 3
tol = 1e-4
max_iter = 300

[evaluation]
folds = 4
bootstrap_replicates = 200
heatmaps_per_class = 1

[women]
backbone = "mobilenetv2"
layers = ["previous_stage", "last", "previous_stage+last"]
grids = [6, 8]
registrations = ["bbox", "row"]
features = ["asym", "asym+own", "zasym+own"]
c_grid = [0.01, 0.1]
side_c = 0.01
tol = 1e-4
max_iter = 2000
"#;

#[test]
fn the_women_model_finds_women_with_a_lesion_on_one_or_both_breasts() {
    let Some(weights) =
        shared_weights("the_women_model_finds_women_with_a_lesion_on_one_or_both_breasts")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    make_symmetric_dataset(&root.join("data"));
    std::fs::write(root.join("lesion.toml"), WOMEN_CONFIG).unwrap();
    // `--shard I/N` fills the cache with the women model's maps too: the run after the two
    // shards computes none. The women model's `previous_stage` maps come with the member's
    // passes over the films (each film's turned view), so the shards compute the member's 40
    // films x 2 views and nothing more (one pass per layer would be 40 more).
    let mut computed = 0;
    for shard in ["1/2", "2/2"] {
        // One line per pass over the shard's films: `shard 1/2: mobilenetv2: 40 maps, 40
        // computed` (the member's), then the women model's.
        let (_, log) = run_lesion_logged(root, "data", &weights, "shard", &["--shard", shard]);
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with(&format!("shard {shard}: mobilenetv2:")))
            .collect();
        assert_eq!(
            lines.len(),
            2,
            "member and women passes of shard {shard}:\n{log}"
        );
        for line in lines {
            let n: usize = line
                .strip_suffix(" computed")
                .and_then(|head| head.rsplit_once(", ")?.1.parse().ok())
                .unwrap_or_else(|| panic!("no `, N computed` at the end of {line:?}"));
            computed += n;
        }
    }
    assert_eq!(computed, 80, "maps computed by the two shards");
    let start = std::time::Instant::now();
    let out = run_lesion(root, &weights, "out", &[]);
    eprintln!("women model run: {:.1} s", start.elapsed().as_secs_f64());
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let layers = record["lesion"]["women"]["maps"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{layers:?}");
    for l in layers {
        assert_eq!(l["maps"], 40, "{l}");
        assert_eq!(l["computed"], 0, "{l}");
    }
    let dir = out.join("lesion");
    let name = "MobileNetV2 women regional asymmetry";
    let key = "score_mobilenetv2_women_regional_asymmetry";
    // predictions.csv's `score` is the headline's: the women model's film score.
    let preds = rows(&dir.join("predictions.csv"));
    assert_eq!(preds.len(), 40);
    for r in &preds {
        assert_eq!(r["score"], r[key], "{}", r["image"]);
        let n: u16 = r["image"].trim_start_matches("mdb").parse().unwrap();
        let w = n.div_ceil(2);
        let planted = symmetric_lesion(w).is_some_and(|l| l.3[usize::from(n.is_multiple_of(2))]);
        assert_eq!(
            r["label"],
            if planted { "1" } else { "0" },
            "{}",
            r["image"]
        );
    }
    // women.csv: the labels from the generator; the AUC recounted from it.
    let women = rows(&dir.join("women.csv"));
    assert_eq!(women.len(), 20);
    let (mut pos, mut neg) = (vec![], vec![]);
    let mut both = None;
    for w in &women {
        let k: u16 = w["woman"].parse().unwrap();
        let s: f64 = w["score"].parse().unwrap();
        assert_eq!(
            w["label"],
            if symmetric_lesion(k).is_some() {
                "1"
            } else {
                "0"
            }
        );
        if k == 20 {
            both = Some(s);
        }
        if symmetric_lesion(k).is_some() {
            pos.push(s);
        } else {
            neg.push(s);
        }
    }
    // Bound: a normal woman's two breasts are the same image turned chest wall left, so her
    // `asym` features are exactly 0 while every one-sided woman's are not: the 6 one-sided
    // women can rank above all 13 normal ones. Woman 20's breasts are identical too, so her
    // `asym` is 0 and only `own` finds her: even ranked below every normal woman she would
    // cost 13 of the 7 x 13 = 91 pairs, AUC 0.857; 0.85 allows that and nothing more.
    let women_auc = auc(&pos, &neg);
    let mut sorted = neg.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[6];
    let both = both.unwrap();
    eprintln!(
        "women AUC {women_auc:.3}; woman 20 (both breasts) {both:.3}, normal median {median:.3}"
    );
    assert!(women_auc >= 0.85, "women AUC {women_auc}: {women:?}");
    // The same lesion on both breasts is not cancelled: above the normal women's median.
    assert!(
        both > median,
        "woman 20 (both breasts) {both} vs the normal women's median {median}"
    );
    // metrics.csv's women AUC of the model is women.csv's.
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let row = metrics
        .lines()
        .find(|l| l.starts_with(&format!("honest,{name},auc,")) && l.ends_with(",women,real"))
        .unwrap();
    let v: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
    assert!((v - women_auc).abs() < 1e-12, "{v} vs {women_auc}");
    for p in ["films", "films_vs_normal_women", "women"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(&format!("honest,{name},auc,"))
                    && l.ends_with(&format!(",{p},real"))),
            "{p}: {metrics}"
        );
    }
    let table = std::fs::read_to_string(dir.join("table.md")).unwrap();
    assert!(
        table.contains(&format!("| **{name} (method)** | women | ")),
        "{table}"
    );
    // The paired comparison with v1's configured method, on the three populations.
    let comparisons = std::fs::read_to_string(dir.join("comparisons.csv")).unwrap();
    assert_eq!(
        comparisons
            .lines()
            .filter(|l| l.contains(name) && l.contains("Ensemble lesion+bilateral"))
            .count(),
        3,
        "{comparisons}"
    );
    // report.html's headline table shows the configured headline, not v1's ensemble.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let start = html
        .find("id=\"headline-table\"")
        .expect("a headline table");
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    assert!(table.contains(name), "{table}");
    assert!(!table.contains("lesion+bilateral"), "{table}");
    let record = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(record.contains("\"candidates\": 72"), "{record}");
    assert!(record.contains("\"unconverged\": 0"), "{record}");
}

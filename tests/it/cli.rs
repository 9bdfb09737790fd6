//! The command line: outputs, determinism across processes, exit codes and messages.

use std::process::{Command, Output};

fn mias(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mias"))
        .args(args)
        .output()
        .expect("running mias")
}

fn real_data(test: &str) -> Option<String> {
    mias_core::skip::real_data(test).map(|d| d.display().to_string())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn dataset_json_is_one_object_with_the_published_counts() {
    let Some(data) = real_data("dataset_json_is_one_object_with_the_published_counts") else {
        return;
    };
    for (labels, normal, abnormal) in [("official", 207, 115), ("paper", 209, 113)] {
        let out = mias(&["dataset", "--data", &data, "--labels", labels, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.trim().lines().count(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["images"], 322);
        assert_eq!(
            (v["normal"].as_u64(), v["abnormal"].as_u64()),
            (Some(normal), Some(abnormal))
        );
        assert_eq!(v["patients"], 161);
        assert_eq!(v["labels"], labels);
        assert_eq!(v["by_tissue"]["F"], 106);
        assert!(v["by_class"]["CALC"].is_u64() && v["benign"].is_u64() && v["malignant"].is_u64());
    }
}

#[test]
fn dataset_reads_a_manifest_with_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["p1_l.png", "p1_r.png", "p2_l.png", "p2_r.png", "p3_l.png"] {
        image::GrayImage::from_pixel(64, 48, image::Luma([90]))
            .save(dir.path().join(name))
            .unwrap();
    }
    // Hand count: 5 images of 3 patients; p1_l malignant with two lesion rows, p2_l benign;
    // p1 and p2 paired (same view, both sides), p3 alone.
    let manifest = "image,patient,laterality,view,label,x,y,radius\n\
                    p1_l.png,p1,L,CC,malignant,10,12,5\n\
                    p1_l.png,p1,L,CC,benign,30,20,4\n\
                    p1_r.png,p1,R,CC,normal,,,\n\
                    p2_l.png,p2,L,MLO,benign,,,\n\
                    p2_r.png,p2,R,MLO,normal,,,\n\
                    p3_l.png,p3,L,CC,normal,,,\n";
    std::fs::write(dir.path().join("manifest.csv"), manifest).unwrap();
    let data = dir.path().display().to_string();
    let out = mias(&["dataset", "--data", &data, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    let got: Vec<&serde_json::Value> = [
        "images",
        "normal",
        "abnormal",
        "benign",
        "malignant",
        "patients",
        "lesions",
        "pairs",
        "unpaired",
    ]
    .iter()
    .map(|k| &v[k])
    .collect();
    assert_eq!(
        got,
        [5, 3, 2, 1, 1, 3, 3, 2, 1]
            .map(serde_json::Value::from)
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(v["format"], "manifest");
    assert_eq!(v["without_coordinates"], serde_json::json!(["p2_l.png"]));

    // A bad value names the file, the line and the column.
    std::fs::write(
        dir.path().join("manifest.csv"),
        manifest.replace("p2_r.png,p2,R,MLO", "p2_r.png,p2,R,XCC"),
    )
    .unwrap();
    let out = mias(&["dataset", "--data", &data, "--json"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("manifest.csv:6") && err.contains("column \"view\""),
        "{err}"
    );
}

#[test]
fn dataset_reads_the_cbis_ddsm_layout_with_its_official_subsets() {
    let dir = tempfile::tempdir().unwrap();
    let header = "patient_id,breast density,left or right breast,image view,abnormality id,\
                  abnormality type,calc type,calc distribution,assessment,pathology,subtlety,\
                  image file path,cropped image file path,ROI mask file path\n";
    for (file, folder, pathology) in [
        (
            "calc_case_description_train_set.csv",
            "Calc-Training_P_00005_RIGHT_CC",
            "MALIGNANT",
        ),
        (
            "calc_case_description_test_set.csv",
            "Calc-Test_P_00038_LEFT_MLO",
            "BENIGN",
        ),
    ] {
        let series = dir
            .path()
            .join("CBIS-DDSM")
            .join(folder)
            .join("1.2")
            .join("3.4");
        std::fs::create_dir_all(&series).unwrap();
        std::fs::write(series.join("1-1.dcm"), b"not decoded by `dataset`").unwrap();
        let (patient, side, view) = {
            let parts: Vec<&str> = folder.split_once('_').unwrap().1.rsplitn(3, '_').collect();
            (parts[2], parts[1], parts[0])
        };
        std::fs::write(
            dir.path().join(file),
            format!(
                "{header}{patient},3,{side},{view},1,calcification,AMORPHOUS,CLUSTERED,3,\
                 {pathology},3,{folder}/1.2/3.4/000000.dcm,,\n"
            ),
        )
        .unwrap();
    }
    let data = dir.path().display().to_string();
    let out = mias(&["dataset", "--data", &data, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "cbis-ddsm");
    assert_eq!(
        (v["images"].as_u64(), v["malignant"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(v["subsets"], serde_json::json!({"train": 1, "test": 1}));
}

#[test]
fn augment_is_byte_identical_across_processes() {
    let Some(data) = real_data("augment_is_byte_identical_across_processes") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let paths: Vec<String> = (0..3)
        .map(|i| tmp.path().join(format!("v{i}.png")).display().to_string())
        .collect();
    for (path, seed) in paths.iter().zip(["11", "11", "12"]) {
        let out = mias(&[
            "augment", "--data", &data, "--image", "mdb002", "--seed", seed, "--grid", "4",
            "--tile", "128", "--out", path,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let bytes: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(bytes[0], bytes[1]);
    assert_ne!(bytes[0], bytes[2]);
    let grid = image::load_from_memory(&bytes[0]).unwrap();
    assert_eq!(
        (grid.width(), grid.height()),
        (2 * 128 + 3 * 4, 2 * 128 + 3 * 4)
    );
}

#[test]
fn fetch_data_imports_then_finds_it_present() {
    let Some(data) = real_data("fetch_data_imports_then_finds_it_present") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("mini-mias").display().to_string();
    let first = mias(&["fetch-data", "--dest", &dest, "--from", &data]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("imported"));
    let second = mias(&["fetch-data", "--dest", &dest, "--from", &data]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("already present"));
}

#[test]
fn bad_input_exits_non_zero_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("absent").display().to_string();
    let out = mias(&["dataset", "--data", &missing]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no dataset at") && stderr(&out).contains("--from"));

    let empty = tmp.path().display().to_string();
    let out = mias(&["dataset", "--data", &empty]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the directory is empty"),
        "{}",
        stderr(&out)
    );

    let out = mias(&["dataset", "--data", &empty, "--labels", "mine"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected `official`, `paper` or `malignant`"),
        "{}",
        stderr(&out)
    );

    // An image a dataset does not hold is named, with what the dataset calls its images.
    let collection = tmp.path().join("collection");
    std::fs::create_dir_all(&collection).unwrap();
    image::GrayImage::from_pixel(32, 32, image::Luma([90]))
        .save(collection.join("a.png"))
        .unwrap();
    std::fs::write(
        collection.join("manifest.csv"),
        "image,patient,laterality,view,label\na.png,P1,L,CC,normal\n",
    )
    .unwrap();
    let collection = collection.display().to_string();
    let out = mias(&[
        "augment",
        "--data",
        &collection,
        "--image",
        "mdb001",
        "--seed",
        "1",
        "--out",
        "x.png",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("mdb001") && stderr(&out).contains("as the manifest writes it"),
        "{}",
        stderr(&out)
    );

    let out = mias(&[
        "fetch-data",
        "--dest",
        &missing,
        "--url",
        "http://127.0.0.1:9/all-mias.tar.gz",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--from") && stderr(&out).contains("cannot download"));
    assert!(!tmp.path().join("absent").exists());
}

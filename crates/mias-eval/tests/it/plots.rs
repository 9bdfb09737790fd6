//! Plots: PNG files that decode to the promised size with curves and text drawn, SVG files with
//! the legend text, atomic writes. Set `MIAS_EVAL_PLOT_DIR` to also keep the files for a look.

use mias_eval::{
    Band, ConfusionMatrix, ConfusionPanel, EvalConfig, Line, LinePlot, Metrics, RocCurve, RocPanel,
    RocSeries, confusion_grid_png, confusion_png, roc_grid_png, roc_grid_svg, roc_png, roc_svg,
    write_confusion, write_lines, write_roc,
};

use crate::entries;

fn curves() -> (RocCurve, RocCurve, Metrics) {
    let y = [true, true, true, false, false, false, false, true];
    let good = [0.9, 0.8, 0.4, 0.3, 0.6, 0.1, 0.2, 0.7];
    let weak = [0.6, 0.5, 0.3, 0.5, 0.6, 0.4, 0.2, 0.45];
    let m = Metrics::from_scores(&y, &good, &EvalConfig::default()).unwrap();
    (
        RocCurve::from_scores(&y, &good).unwrap(),
        RocCurve::from_scores(&y, &weak).unwrap(),
        m,
    )
}

fn keep(name: &str, bytes: &[u8]) {
    if let Ok(dir) = std::env::var("MIAS_EVAL_PLOT_DIR") {
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
    }
}

#[test]
fn roc_png_has_curves_and_text() {
    let (good, weak, m) = curves();
    let series = [
        RocSeries {
            name: "VGG16",
            curve: &good,
            auc: m.auc.as_ref(),
        },
        RocSeries {
            name: "MobileNetV2",
            curve: &weak,
            auc: None,
        },
    ];
    let png = roc_png("ROC curves", &series, (800, 700)).unwrap();
    keep("roc.png", &png);
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (800, 700));
    // The first curve's colour (Okabe-Ito blue) and the second's (vermillion) are drawn.
    let has = |c: [u8; 3]| img.pixels().filter(|p| p.0 == c).count();
    assert!(
        has([0, 114, 178]) > 200,
        "blue pixels: {}",
        has([0, 114, 178])
    );
    assert!(
        has([213, 94, 0]) > 200,
        "vermillion pixels: {}",
        has([213, 94, 0])
    );
    // The title band holds dark glyph pixels: the font rendered.
    let dark_in_title = (0..800)
        .flat_map(|x| (0..50).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&v| v < 100))
        .count();
    assert!(dark_in_title > 50, "title pixels: {dark_in_title}");

    let svg = roc_svg("ROC curves", &series, (800, 700)).unwrap();
    keep("roc.svg", svg.as_bytes());
    assert!(svg.starts_with("<svg"));
    assert!(
        svg.contains("VGG16 (AUC 0.938, 95% CI"),
        "legend with interval"
    );
    assert!(svg.contains("MobileNetV2 (AUC"));
    assert!(svg.contains("Chance (AUC 0.5)"));
}

#[test]
fn confusion_png_has_one_panel_per_model() {
    let a = ConfusionMatrix {
        tp: 50,
        fp: 7,
        tn: 200,
        fn_: 3,
    };
    let b = ConfusionMatrix {
        tp: 40,
        fp: 20,
        tn: 187,
        fn_: 13,
    };
    let panels = [
        ConfusionPanel {
            name: "VGG16",
            matrix: &a,
        },
        ConfusionPanel {
            name: "Ensemble",
            matrix: &b,
        },
    ];
    let png = confusion_png("Confusion matrices", &panels).unwrap();
    keep("confusion.png", &png);
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (40 + 2 * 380, 440));
    // The tn cell of panel one is 200/207 of its row: nearly the darkest blue, drawn in both
    // panels (x < 420 and x >= 420).
    let dark_blue = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        p[2] > 120 && p[0] < 60
    };
    let left = (0..420)
        .flat_map(|x| (0..440).map(move |y| (x, y)))
        .filter(|&(x, y)| dark_blue(x, y))
        .count();
    let right = (420..800)
        .flat_map(|x| (0..440).map(move |y| (x, y)))
        .filter(|&(x, y)| dark_blue(x, y))
        .count();
    assert!(left > 1000 && right > 1000, "{left} {right}");
}

#[test]
fn confusion_panels_are_laid_out_in_a_grid() {
    // Six panels in three columns: two rows of three, each panel 380 x 390 under a 50-px title.
    let m = ConfusionMatrix {
        tp: 50,
        fp: 7,
        tn: 200,
        fn_: 3,
    };
    let names = ["a", "b", "c", "d", "e", "f"];
    let panels: Vec<ConfusionPanel> = names
        .iter()
        .map(|name| ConfusionPanel { name, matrix: &m })
        .collect();
    let png = confusion_grid_png("Grid", &panels, 3).unwrap();
    keep("confusion_grid.png", &png);
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (40 + 3 * 380, 50 + 2 * 390));
    // Each of the six cells of the grid holds the dark tn cell of its own panel.
    let (cell_w, cell_h) = (img.width() / 3, (img.height() - 50) / 2);
    for row in 0..2 {
        for col in 0..3 {
            let dark = (col * cell_w..(col + 1) * cell_w)
                .flat_map(|x| (50 + row * cell_h..50 + (row + 1) * cell_h).map(move |y| (x, y)))
                .filter(|&(x, y)| {
                    let p = img.get_pixel(x, y).0;
                    p[2] > 120 && p[0] < 60
                })
                .count();
            assert!(dark > 1000, "panel at row {row}, column {col}: {dark}");
        }
    }
    // The default lays out at most four a row.
    let png = confusion_png("Default", &panels).unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!((img.width(), img.height()), (40 + 4 * 380, 50 + 2 * 390));
    assert!(confusion_grid_png("none", &panels, 0).is_err());
}

#[test]
fn roc_charts_are_laid_out_in_a_grid_with_intervals_in_each_legend() {
    let (good, weak, m) = curves();
    let one = [RocSeries {
        name: "VGG16",
        curve: &good,
        auc: m.auc.as_ref(),
    }];
    let two = [RocSeries {
        name: "Ensemble",
        curve: &weak,
        auc: None,
    }];
    let panels = [
        RocPanel {
            title: "paper protocol",
            series: &one,
        },
        RocPanel {
            title: "honest protocol",
            series: &two,
        },
        RocPanel {
            title: "image protocol",
            series: &one,
        },
    ];
    let png = roc_grid_png("ROC", &panels, 2).unwrap();
    keep("roc_grid.png", &png);
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (40 + 2 * 640, 50 + 2 * 600));
    // The third chart (second row, first column) has its blue curve.
    let blue_below = img
        .enumerate_pixels()
        .filter(|(x, y, p)| *x < 680 && *y > 650 && p.0 == [0, 114, 178])
        .count();
    assert!(blue_below > 200, "{blue_below}");
    let svg = roc_grid_svg("ROC", &panels, 2).unwrap();
    for text in [
        "paper protocol",
        "honest protocol",
        "image protocol",
        "VGG16 (AUC 0.938, 95% CI",
        "Chance (AUC 0.5)",
    ] {
        assert!(svg.contains(text), "{text}");
    }
    assert!(roc_grid_png("ROC", &[], 2).is_err());
    let empty = [RocPanel {
        title: "nothing",
        series: &[],
    }];
    assert!(roc_grid_png("ROC", &empty, 1).is_err());
}

#[test]
fn plot_files_are_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _, _) = curves();
    let series = [RocSeries {
        name: "Ensemble",
        curve: &good,
        auc: None,
    }];
    let cm = ConfusionMatrix {
        tp: 1,
        fp: 2,
        tn: 3,
        fn_: 4,
    };
    let panels = [ConfusionPanel {
        name: "Ensemble",
        matrix: &cm,
    }];
    write_roc(&dir.path().join("roc.png"), "ROC", &series).unwrap();
    write_roc(&dir.path().join("roc.svg"), "ROC", &series).unwrap();
    write_confusion(&dir.path().join("confusion.png"), "Confusion", &panels).unwrap();
    write_confusion(&dir.path().join("confusion.svg"), "Confusion", &panels).unwrap();
    assert_eq!(
        entries(dir.path()),
        vec!["confusion.png", "confusion.svg", "roc.png", "roc.svg"]
    );
    let png = std::fs::read(dir.path().join("roc.png")).unwrap();
    assert_eq!(image::load_from_memory(&png).unwrap().width(), 800);
    // Unknown extension and empty input: errors, no file.
    assert!(write_roc(&dir.path().join("roc.pdf"), "ROC", &series).is_err());
    assert!(write_roc(&dir.path().join("empty.png"), "ROC", &[]).is_err());
    assert!(write_confusion(&dir.path().join("c.png"), "C", &[]).is_err());
    assert_eq!(entries(dir.path()).len(), 4);
}

#[test]
fn edge_cases_render_without_panicking() {
    // Empty rows, more curves than colours, text outside the embedded font's Latin-1 subset.
    let zero = ConfusionMatrix::default();
    let png = confusion_png(
        "Leer \u{2192} \u{6f22}",
        &[ConfusionPanel {
            name: "none",
            matrix: &zero,
        }],
    )
    .unwrap();
    assert!(image::load_from_memory(&png).is_ok());
    let (good, weak, _) = curves();
    let names: Vec<String> = (0..9).map(|i| format!("model {i}")).collect();
    let series: Vec<RocSeries> = names
        .iter()
        .enumerate()
        .map(|(i, n)| RocSeries {
            name: n,
            curve: if i % 2 == 0 { &good } else { &weak },
            auc: None,
        })
        .collect();
    let png = roc_png("many", &series, (400, 300)).unwrap();
    assert_eq!(image::load_from_memory(&png).unwrap().width(), 400);
    assert!(roc_png("bad size", &series, (0, 300)).is_err());
}

#[test]
fn line_plots_draw_solid_and_dashed_lines_and_bands_in_both_formats() {
    let solid = [(1.0, 0.6), (2.0, 0.7), (5.0, 0.8), (10.0, 0.9)];
    let dashed = [(1.0, 0.5), (2.0, 0.55), (5.0, 0.6), (10.0, 0.7)];
    let lines = [
        Line {
            name: "strength 1, real labels",
            points: &solid,
            colour: 0,
            dashed: false,
        },
        Line {
            name: "strength 1, permuted labels",
            points: &dashed,
            colour: 1,
            dashed: true,
        },
    ];
    let bands = [Band {
        name: "honest protocol",
        value: 0.45,
        low: 0.38,
        high: 0.53,
    }];
    let plot = LinePlot {
        title: "AUC against views",
        x_label: "views per image",
        y_label: "AUC",
        y_range: (0.3, 1.0),
        lines: &lines,
        bands: &bands,
        reference: Some(("chance", 0.5)),
    };
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("sweep.png");
    write_lines(&png_path, &plot).unwrap();
    let bytes = std::fs::read(&png_path).unwrap();
    keep("sweep.png", &bytes);
    let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (900, 650));
    let has = |c: [u8; 3]| img.pixels().filter(|p| p.0 == c).count();
    assert!(
        has([0, 114, 178]) > 200,
        "solid line: {}",
        has([0, 114, 178])
    );
    // A dashed line of the same length leaves fewer pixels than a solid one would.
    let vermillion = has([213, 94, 0]);
    assert!(vermillion > 50, "dashed line: {vermillion}");
    let svg_path = dir.path().join("sweep.svg");
    write_lines(&svg_path, &plot).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for text in [
        "AUC against views",
        "honest protocol",
        "permuted labels",
        "chance",
    ] {
        assert!(svg.contains(text), "{text}");
    }
    let empty = LinePlot { lines: &[], ..plot };
    assert!(write_lines(&dir.path().join("e.png"), &empty).is_err());
    let flat = LinePlot {
        y_range: (1.0, 1.0),
        ..plot
    };
    assert!(write_lines(&dir.path().join("f.png"), &flat).is_err());
    assert!(write_lines(&dir.path().join("f.txt"), &plot).is_err());
    assert!(!dir.path().join("e.png").exists());
}

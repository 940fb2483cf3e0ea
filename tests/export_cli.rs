//! `reasonscope export` end to end: every chart in every format.

use std::path::PathBuf;
use std::process::Command;

fn run_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-n16.json.gz")
}

fn export(
    dir: &std::path::Path,
    chart: &str,
    format: &str,
    extra: &[&str],
) -> (PathBuf, std::process::Output) {
    let out = dir.join(format!("{chart}.{format}"));
    let o = Command::new(env!("CARGO_BIN_EXE_reasonscope"))
        .arg("export")
        .arg(run_file())
        .args(["--chart", chart, "--format", format, "-o"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    (out, o)
}

/// (width, height) from a PNG header.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

#[test]
fn every_chart_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let run = reasonscope::run::read_run(&run_file()).unwrap();
    let turns = reasonscope::analysis::analyze_run(&run, &Default::default());
    for chart in [
        "methods",
        "agreement",
        "entropy",
        "branches",
        "reflection",
        "curves",
        "calibration",
    ] {
        let req = reasonscope::charts::FigureRequest {
            id: chart.into(),
            turn: 0,
            paths: None,
            selected: None,
            normalized_x: false,
            params: Default::default(),
        };
        let suite: Vec<_> = turns.iter().collect();
        let fig = reasonscope::charts::figure_for(&req, &run, &turns, &suite).unwrap();

        let (svg_path, o) = export(dir.path(), chart, "svg", &[]);
        assert!(
            o.status.success(),
            "{chart}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        let doc = resvg::usvg::roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{chart}: SVG is not XML: {e}"));
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::to_owned))
            .collect();
        // The chart's labels are text in the SVG.
        assert!(texts.contains(&fig.title), "{chart}: title missing");
        for c in &fig.charts {
            if !c.x.label.is_empty() {
                assert!(
                    texts.contains(&c.x.label),
                    "{chart}: x label {:?} missing",
                    c.x.label
                );
            }
        }

        let (png_path, o) = export(dir.path(), chart, "png", &["--scale", "1.5"]);
        assert!(
            o.status.success(),
            "{chart}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (w, h) = reasonscope::export::figure_size(&fig);
        assert_eq!(
            png_size(&std::fs::read(&png_path).unwrap()),
            ((w * 1.5).ceil() as u32, (h * 1.5).ceil() as u32),
            "{chart}"
        );

        let (csv_path, o) = export(dir.path(), chart, "csv", &[]);
        assert!(o.status.success());
        let csv = std::fs::read_to_string(&csv_path).unwrap();
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert!(!rows.is_empty(), "{chart}: empty CSV");
        // Every plotted y value of the first line/bar series is in the CSV.
        for s in fig.charts.iter().flat_map(|c| &c.series).take(3) {
            if let reasonscope::charts::Mark::Bars { bars: pts, .. }
            | reasonscope::charts::Mark::Line { points: pts, .. }
            | reasonscope::charts::Mark::Points { points: pts, .. } = &s.mark
            {
                for p in pts.iter().take(5) {
                    let needle = format!(",{},{},", p[0], p[1]);
                    assert!(csv.contains(&needle), "{chart}: CSV lacks {needle}");
                }
            }
        }
    }
}

#[test]
fn never_overwrites_and_bad_paths_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (_, o) = export(dir.path(), "methods", "svg", &[]);
    assert!(o.status.success());
    let (_, o) = export(dir.path(), "methods", "svg", &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    let (_, o) = export(dir.path(), "methods", "svg", &["--force"]);
    assert!(o.status.success());
    let o = Command::new(env!("CARGO_BIN_EXE_reasonscope"))
        .arg("export")
        .arg(run_file())
        .args([
            "--chart",
            "methods",
            "--format",
            "png",
            "-o",
            "/nonexistent/dir/x.png",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("cannot write /nonexistent/dir/x.png") && e.contains("does not exist"),
        "{e}"
    );
}

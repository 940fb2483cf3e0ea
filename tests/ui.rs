//! The real app in egui_kittest, headless on the CPU (Mesa lavapipe through
//! wgpu; see Makefile for the environment).

use std::path::PathBuf;

mod common;

use common::ui::{click, content, harness, step_until, step_until_shown};
use egui_kittest::kittest::{By, Queryable};
use reasonscope::export::Format;
use reasonscope::ui::{AppCommand, View};

#[test]
fn opens_the_bundled_run_and_every_view_shows_its_content() {
    let mut h = harness(&[]);
    assert_eq!(h.state().runs.len(), 1);
    assert!(content(&h, "apples-explained-n32"));
    let expect = [
        (View::Methods, "Method agreement"),
        (View::Paths, "colour by"),
        (View::Entropy, "Per-path summary"),
        (View::Branches, "Most decisive forks"),
        (View::Reflection, "reflection share"),
        (View::Curves, "Suite:"),
        (View::Drift, "nothing can drift"),
        (View::Compare, "Open a second run"),
    ];
    for (view, text) in expect {
        click(&mut h, view.label());
        assert_eq!(h.state().settings.view, view);
        if view == View::Curves {
            // Accuracy vs N is computed in a background job.
            assert!(step_until(&mut h, 60, |a| !a.figure_pending("curves")));
            h.run_steps(3);
        }
        assert!(content(&h, text), "{} view lacks {text:?}", view.label());
        h.snapshot(format!(
            "view_{}",
            view.label().to_lowercase().replace(' ', "_")
        ));
    }
}

#[test]
fn hovering_a_token_shows_its_alternatives() {
    let mut h = harness(&[]);
    click(&mut h, "Paths");
    let text: String = h.state().runs[0].run.paths[0].turns[0]
        .text
        .chars()
        .take(30)
        .collect();
    // Long enough to tell path 0's column from path 1's.
    let node = h.get_by_label_contains(&text);
    let r = node.rect();
    h.hover_at(r.left_top() + egui::vec2(4.0, 6.0));
    // Tooltips appear after the hover delay.
    h.run_steps(60);
    assert!(
        content(&h, "alternative"),
        "no tooltip with the alternatives"
    );
    assert!(content(&h, "(sampled)"));
}

#[test]
fn selecting_a_path_in_one_view_selects_it_in_the_others() {
    let mut h = harness(&[]);
    click(&mut h, "Entropy");
    // Below the fold under the run header: clicked through AccessKit.
    h.get(By::new().label("2").role(egui::accesskit::Role::Link))
        .click_accesskit();
    h.run_steps(4);
    assert_eq!(h.state().settings.view, View::Paths);
    assert_eq!(h.state().selection.shown_paths, vec![2]);
    assert!(content(&h, "path 2 · answer"));
    // J moves every shown column to the next path.
    h.key_press(egui::Key::J);
    h.run_steps(3);
    assert_eq!(h.state().selection.shown_paths, vec![3]);
    // A selected token is marked in the Entropy view's figure too.
    h.state_mut()
        .push(AppCommand::SelectToken { path: 3, token: 2 });
    h.run_steps(2);
    let fig = h.state().build_figure("entropy").unwrap();
    assert!(fig.charts[0]
        .series
        .iter()
        .any(|s| s.name == "selected token 2"));
    assert!(content(&h, "path 3 · answer"));
}

#[test]
fn export_from_the_ui_writes_png_svg_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&[]);
    for (fmt, name) in [
        (Format::Png, "m.png"),
        (Format::Svg, "m.svg"),
        (Format::Csv, "m.csv"),
    ] {
        // Exports run on a job thread: wait for this one's message.
        h.state_mut().push(AppCommand::ClearMessage);
        h.state_mut().push(AppCommand::ExportTo {
            figure: "methods",
            format: fmt,
            path: dir.path().join(name),
        });
        assert!(step_until_shown(&mut h, 30, "exported methods"), "{name}");
    }
    let png = std::fs::read(dir.path().join("m.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let svg = std::fs::read_to_string(dir.path().join("m.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("majority"));
    let csv = std::fs::read_to_string(dir.path().join("m.csv")).unwrap();
    assert!(csv.starts_with("chart,series,kind,x,y"));
    // Never overwrites silently.
    h.state_mut().push(AppCommand::ExportTo {
        figure: "methods",
        format: Format::Csv,
        path: dir.path().join("m.csv"),
    });
    assert!(step_until_shown(&mut h, 30, "already exists"));
}

#[test]
fn a_corrupt_run_shows_its_error_and_keeps_the_open_run() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.json");
    std::fs::write(
        &bad,
        b"{\"format\": \"reasonscope.run\", \"version\": 1, \"paths\": [",
    )
    .unwrap();
    let mut h = harness(&[]);
    h.state_mut().push(AppCommand::Open(bad));
    h.run_steps(1);
    assert!(
        common::ui::step_until(&mut h, 20, |a| a.opening.is_empty()),
        "the file is read in the background"
    );
    h.run_steps(2);
    assert!(content(&h, "broken.json"), "the error names the file");
    assert!(content(&h, "truncated"));
    assert_eq!(h.state().runs.len(), 1);
    assert!(
        content(&h, "Method agreement"),
        "the open run is still shown"
    );
}

#[test]
fn two_runs_compare_side_by_side() {
    let runs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs");
    let mut h = harness(&[
        runs.join("apples-n16.json.gz"),
        runs.join("change-split-n16.json.gz"),
    ]);
    assert_eq!(h.state().runs.len(), 2);
    click(&mut h, "Compare runs");
    assert!(content(&h, "Token entropy distribution"));
    assert!(content(&h, "apples-n16.json.gz ·"));
}

#[test]
fn the_drift_view_shows_a_three_turn_run_and_exports_its_charts() {
    let run =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-3turns-n16.json.gz");
    let mut h = harness(&[run]);
    click(&mut h, "Drift");
    assert_eq!(h.state().settings.view, View::Drift);
    for text in [
        "Answers per turn",
        "KL drift D_t",
        "Answer trajectory of each path",
        "kl_ref measured against: no history",
        "equilibrium D*",
        "confidence score",
        "1 -> 2",
        "2 -> 3",
    ] {
        assert!(content(&h, text), "the Drift view lacks {text:?}");
    }
    // The status message names this machine's paths: not part of the image.
    if content(&h, "dismiss") {
        click(&mut h, "dismiss");
    }
    // Nor is where the pointer rests after that click.
    h.event(egui::Event::PointerGone);
    h.run_steps(2);
    h.snapshot("view_drift_3turns");
    let dir = tempfile::tempdir().unwrap();
    for (fmt, name) in [
        (Format::Png, "d.png"),
        (Format::Svg, "d.svg"),
        (Format::Csv, "d.csv"),
    ] {
        h.state_mut().push(AppCommand::ClearMessage);
        h.state_mut().push(AppCommand::ExportTo {
            figure: "drift",
            format: fmt,
            path: dir.path().join(name),
        });
        assert!(step_until_shown(&mut h, 30, "exported drift"), "{name}");
    }
    let png = std::fs::read(dir.path().join("d.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let svg = std::fs::read_to_string(dir.path().join("d.svg")).unwrap();
    assert!(svg.contains("Answers per turn") && svg.contains("turn 3"));
    let csv = std::fs::read_to_string(dir.path().join("d.csv")).unwrap();
    // Bands between turns and one trajectory point per path and turn.
    assert!(csv.lines().any(|l| l.contains(",band,")));
    let points = csv
        .lines()
        .filter(|l| l.starts_with("Answer trajectory") && l.contains(",point,"))
        .count();
    assert_eq!(points, 16 * 3);
}

#[test]
fn the_suite_view_shows_a_folder_with_the_numbers_of_analyze() {
    // The plain sample runs, as one suite folder.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("suite");
    std::fs::create_dir(&dir).unwrap();
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs");
    for name in [
        "apples-n16.json.gz",
        "change-split-n16.json.gz",
        "multiply-n64.json.gz",
        "apples-3turns-n16.json.gz",
    ] {
        std::fs::copy(samples.join(name), dir.join(name)).unwrap();
    }
    let mut h = common::ui::harness(std::slice::from_ref(&dir));
    assert!(
        common::ui::step_until(&mut h, 60, |a| a.runs.len() == 4),
        "the folder's four runs did not open"
    );
    assert_eq!(h.state().settings.view, View::Suite);
    // Runs keep the folder's order whatever order they finish loading in;
    // the first is made active so the picture does not depend on that order.
    let names: Vec<String> = h.state().runs.iter().map(|r| r.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    h.state_mut().push(AppCommand::Activate(0));
    h.run_steps(3);
    assert!(content(&h, "Decoding method plain"));
    // The same numbers as `reasonscope analyze --format json` on the folder.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reasonscope"))
        .args(["analyze", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = json["suite"]["methods"].as_array().unwrap();
    let groups = h.state().suite_groups();
    assert_eq!(groups.len(), 1);
    let turns: Vec<&reasonscope::analysis::TurnAnalysis> = groups[0]
        .1
        .iter()
        .map(|&(r, t)| &h.state().runs[r].turns[t])
        .collect();
    let got = reasonscope::analysis::suite::suite_methods(&turns);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.method, w["method"].as_str().unwrap());
        assert!(
            (g.accuracy - w["accuracy"].as_f64().unwrap()).abs() < 1e-12,
            "{}",
            g.method
        );
        assert_eq!(
            g.tokens_total as u64,
            w["tokens_total"].as_u64().unwrap(),
            "{}",
            g.method
        );
        if let Some(e) = w["ece"].as_f64() {
            assert!((g.ece.unwrap() - e).abs() < 1e-12);
        }
        assert!(content(&h, &format!("{:.3}", g.accuracy)));
    }
    assert!(
        common::ui::step_until_shown(&mut h, 120, "Accuracy per selection method"),
        "the suite chart did not appear"
    );
    // The status message names this machine's paths: not part of the image.
    if content(&h, "dismiss") {
        click(&mut h, "dismiss");
    }
    // Nor is where the pointer rests after that click.
    h.event(egui::Event::PointerGone);
    h.run_steps(2);
    h.snapshot("view_suite");
    let png = tempfile::tempdir().unwrap();
    h.state_mut().push(AppCommand::ExportTo {
        figure: "suite",
        format: Format::Svg,
        path: png.path().join("s.svg"),
    });
    assert!(step_until_shown(&mut h, 30, "exported suite"));
    let svg = std::fs::read_to_string(png.path().join("s.svg")).unwrap();
    assert!(svg.contains("Wilson") && svg.contains("majority"));
}

#[test]
fn the_paths_view_marks_cntp_steps_and_shows_their_trials() {
    let run = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-cntp-n8.json.gz");
    let mut h = harness(&[run]);
    click(&mut h, "Paths");
    assert!(content(&h, "CNTP branched at"));
    // Its first token is a branching step (the first token's entropy is high).
    let r = h.state().runs[0].run.clone();
    let steps = &r.decoding.as_ref().unwrap().cntp.as_ref().unwrap().steps;
    assert!(steps.iter().any(|s| s.path == 0 && s.token == 0));
    let text: String = r.paths[0].turns[0].text.chars().take(12).collect();
    let node = h.get_by_label_contains(&text);
    let rect = node.rect();
    h.hover_at(rect.left_top() + egui::vec2(4.0, 6.0));
    h.run_steps(60);
    assert!(
        content(&h, "lowest perplexity kept"),
        "no CNTP trials on hover"
    );
    assert!(content(&h, "kept"));
}

#[test]
fn a_folder_opens_in_one_job_with_one_progress_line_and_one_chart_job() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("suite");
    std::fs::create_dir(&dir).unwrap();
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-3turns-n16.json.gz");
    for i in 0..40 {
        std::fs::copy(&sample, dir.join(format!("q{i:02}.json.gz"))).unwrap();
    }
    let mut h = harness(&[]);
    // A folder from the recent list (or anywhere) opens as a folder.
    h.state_mut().push(AppCommand::Open(dir.clone()));
    let mut frames_while_opening = 0;
    let start = std::time::Instant::now();
    loop {
        h.step();
        let app = h.state();
        // (The app starts on the bundled sample run.)
        let folder_runs = app.runs.iter().filter(|r| r.name.starts_with('q')).count();
        if app.opening.is_empty() && folder_runs == 40 {
            break;
        }
        assert!(start.elapsed().as_secs() < 120, "the folder did not open");
        if let Some((done, total)) = app.opening_progress() {
            frames_while_opening += 1;
            assert_eq!(total, 40);
            assert!(done < total);
            // No chart job over a half-open folder.
            assert!(!app.figure_pending("suite"));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(frames_while_opening > 0, "never saw the folder opening");
    // The folder is remembered, not each of its files.
    let recent = &h.state().settings.recent;
    assert_eq!(recent.first(), Some(&dir));
    assert!(!recent.iter().any(|p| p.starts_with(&dir) && p != &dir));
    // Once every run is in, the chart is computed once.
    h.run_steps(2);
    assert!(h.state().figure_pending("suite"));
    assert!(
        common::ui::step_until_shown(&mut h, 120, "Accuracy per selection method"),
        "the suite chart did not appear"
    );
    // A disagreement link opens its run (the list lays out only the rows in view).
    let name = "q00.json.gz · turn 1";
    h.get_by_label(name).click();
    h.run_steps(3);
    assert_eq!(h.state().settings.view, View::Methods);
    assert_eq!(h.state().runs[h.state().active].name, "q00.json.gz");
}

/// A file dropped from the desktop, as the native integration hands it over.
#[derive(Debug)]
struct NativeDrop(PathBuf);

impl egui::DroppedFile for NativeDrop {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Another tool's file dropped on the window: detected, imported in the
/// background, shown with what its statistics can and cannot say, and kept
/// as a run file with Save run as.
#[test]
fn dropping_an_openai_response_imports_it_with_bound_and_unavailable_labels() {
    let f =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/import/llama-server-chat.json");
    let mut h = harness(&[]);
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(NativeDrop(f)));
    h.run_steps(1);
    assert!(
        common::ui::step_until(&mut h, 30, |a| a
            .runs
            .iter()
            .any(|r| r.name.contains("(imported)"))),
        "the dropped file is imported"
    );
    h.run_steps(3);
    let app = h.state();
    assert_eq!(app.runs.len(), 2, "the bundled run stays open");
    assert!(
        app.run().unwrap().path.is_none(),
        "never saved over the source"
    );
    assert!(content(&h, "imported"));
    assert!(content(&h, "openai-chat"));
    click(&mut h, View::Methods.label());
    assert!(content(&h, "entropy is a lower bound"));
    assert!(
        content(&h, "needs the full distribution"),
        "self-certainty says why it is unavailable"
    );
    click(&mut h, View::Entropy.label());
    assert!(common::ui::step_until_shown(
        &mut h,
        30,
        "lower bound from the top-k logprobs"
    ));
    assert!(content(&h, "mean entropy (lower bound)"));
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("chat.json.gz");
    h.state_mut().push(AppCommand::SaveRunTo(saved.clone()));
    h.run_steps(2);
    let run = reasonscope::run::read_run(&saved).unwrap();
    assert_eq!(run.import.unwrap().from, "openai-chat");
    assert_eq!(
        h.state().run().unwrap().path.as_deref(),
        Some(saved.as_path())
    );
}

#[test]
fn a_text_only_import_says_why_entropy_is_unavailable() {
    let f =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/import/lm-eval-samples.jsonl");
    let mut h = harness(&[f]);
    assert!(common::ui::step_until(&mut h, 30, |a| a.runs.len() == 5 && a.opening.is_empty()));
    h.run_steps(3);
    assert_eq!(
        h.state().settings.view,
        View::Suite,
        "several prompts open as a suite"
    );
    for v in View::ALL {
        click(&mut h, v.label());
    }
    click(&mut h, View::Entropy.label());
    assert!(content(
        &h,
        "Entropy and DeepConf confidence are unavailable: this run holds text only"
    ));
}

#[test]
fn an_error_is_never_overwritten_by_an_info_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        b"{\"format\": \"reasonscope.run\", \"version\": 1, \"paths\": [",
    )
    .unwrap();
    let good = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-n16.json.gz");
    let mut h = harness(&[bad, good]);
    assert!(common::ui::step_until(&mut h, 30, |a| a.opening.is_empty() && a.runs.len() == 1));
    h.run_steps(2);
    let app = h.state();
    let m = app.message.as_ref().unwrap();
    assert!(m.error && m.text.contains("bad.json"), "{}", m.text);
    assert!(app
        .messages
        .iter()
        .any(|m| !m.error && m.text.contains("apples-n16")));
    assert!(content(&h, "log (2, 1 errors)"));
    click(&mut h, "log (2, 1 errors)");
    assert!(content(&h, "Messages"));
}

/// Tab commits a typed number into its own field (egui's DragValue handed
/// it to the next field), and an out-of-range value is clamped with a note.
#[test]
fn numeric_fields_commit_on_tab_and_clamp_with_a_note() {
    use egui::accesskit::Role;
    let mut h = harness(&[]);
    h.state_mut().push(AppCommand::ToggleNewRun);
    h.run_steps(3);
    let temperature = h.state().settings.form.temperature;
    let type_into =
        |h: &mut egui_kittest::Harness<'static, reasonscope::ui::App>, label: &str, text: &str| {
            h.get(By::new().label(label).role(Role::TextInput)).focus();
            h.run_steps(2);
            h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
            h.get(By::new().label(label).role(Role::TextInput))
                .type_text(text);
            h.run_steps(1);
            h.key_press(egui::Key::Tab);
            h.run_steps(3);
        };
    type_into(&mut h, "Max tokens", "64");
    assert_eq!(h.state().settings.form.max_tokens, 64);
    assert_eq!(
        h.state().settings.form.temperature,
        temperature,
        "the next field is untouched"
    );
    type_into(&mut h, "Temperature", "7");
    assert_eq!(h.state().settings.form.temperature, 2.0);
    assert!(content(&h, "7 is outside 0–2: set to 2"));
    type_into(&mut h, "Paths (N)", "many");
    assert!(content(&h, "\"many\" is not a number"));
}

/// The Paths view's colour scale belongs to the turn: moving through the
/// paths with J does not rescale it.
#[test]
fn the_paths_colour_scale_stays_fixed_as_paths_change() {
    let mut h = harness(&[]);
    click(&mut h, "Paths");
    let scale = |h: &egui_kittest::Harness<'static, reasonscope::ui::App>| {
        format!(
            "{:?}",
            h.get_by_label_contains("(warm = uncertain)").value()
        )
    };
    let first = scale(&h);
    for _ in 0..5 {
        h.key_press(egui::Key::J);
        h.run_steps(3);
        assert_eq!(scale(&h), first);
    }
    assert_ne!(h.state().selection.shown_paths, vec![0, 1]);
}

/// Each view keeps its own scroll position: scrolling one never opens
/// another mid-page.
#[test]
fn each_view_scrolls_on_its_own() {
    let mut h = harness(&[]);
    let top_of = |h: &egui_kittest::Harness<'static, reasonscope::ui::App>, l: &str| {
        h.query_all_by_label_contains(l)
            .next()
            .map(|n| n.rect().top())
            .unwrap()
    };
    click(&mut h, "Methods");
    let before = top_of(&h, "lowest_perplexity");
    h.hover_at(egui::pos2(640.0, 500.0));
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, -300.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(20);
    let scrolled = top_of(&h, "lowest_perplexity");
    assert!(
        scrolled < before - 100.0,
        "the Methods view scrolled: {before} -> {scrolled}"
    );
    click(&mut h, "Entropy");
    h.run_steps(3);
    let summary = top_of(&h, "Per-path summary");
    click(&mut h, "Methods");
    h.run_steps(3);
    click(&mut h, "Entropy");
    h.run_steps(3);
    assert_eq!(top_of(&h, "Per-path summary"), summary);
    assert!(
        summary > 250.0,
        "the Entropy view opened scrolled: {summary}"
    );
    click(&mut h, "Methods");
    h.run_steps(3);
    assert_eq!(
        top_of(&h, "lowest_perplexity"),
        scrolled,
        "Methods keeps its place"
    );
}

/// Without a desktop file dialog (no XDG portal), File > Open falls back
/// to the in-app path field, which says why, completes and opens.
#[test]
fn without_a_desktop_dialog_open_falls_back_to_a_path_field() {
    std::env::set_var("REASONSCOPE_NO_NATIVE_DIALOG", "1");
    let mut h = harness(&[]);
    h.state_mut().push(AppCommand::OpenDialog);
    h.run_steps(3);
    assert!(h.state().path_dialog.is_some());
    assert!(content(&h, "No desktop file dialog answered"));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs");
    h.state_mut().path_dialog.as_mut().unwrap().text = format!("{}/apples-n", dir.display());
    h.run_steps(2);
    // Completion lists the matching files; clicking one fills it in.
    let entry = format!("{}/apples-n16.json.gz", dir.display());
    click(&mut h, &entry);
    assert_eq!(h.state().path_dialog.as_ref().unwrap().text, entry);
    click(&mut h, "OK");
    assert!(common::ui::step_until(&mut h, 30, |a| a.runs.len() == 2 && a.opening.is_empty()));
    assert!(h.state().path_dialog.is_none());
    // Ctrl+E where there is no chart says so instead of doing nothing.
    click(&mut h, "Paths");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::E);
    h.run_steps(3);
    assert!(content(&h, "has no chart to export"));
    std::env::remove_var("REASONSCOPE_NO_NATIVE_DIALOG");
}

/// Network sockets this process listens on (TCP in LISTEN, or bound UDP):
/// its open socket inodes matched against /proc/net.
fn listening_sockets() -> Vec<String> {
    let mine: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_owned)
        })
        .collect();
    let mut out = Vec::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || !mine.iter().any(|i| i == f[9]) {
                continue;
            }
            if table.starts_with("udp") || f[3] == "0A" {
                out.push(format!("{table} {}", f[1]));
            }
        }
    }
    out
}

#[test]
fn the_app_listens_on_no_network_port() {
    // The detector sees a listener of this process.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    assert_eq!(listening_sockets().len(), 1);
    drop(probe);
    let mut h = harness(&[]);
    for view in View::ALL {
        h.state_mut().push(AppCommand::SetView(view));
        h.run_steps(2);
    }
    click(&mut h, "New run");
    h.run_steps(5);
    assert!(
        std::fs::read_dir("/proc/self/fd").is_ok(),
        "this check needs Linux's /proc"
    );
    assert_eq!(listening_sockets(), Vec::<String>::new());
}

/// Charts rebuilt again and again (as live sampling does several times a
/// second) keep one cached legend corner per plot: egui's memory does not
/// grow with the number of figures drawn.
#[test]
fn rebuilt_figures_do_not_grow_egui_memory() {
    let mut h = harness(&[]);
    // Branches: one chart, with a legend.
    click(&mut h, View::Branches.label());
    let mut sizes = Vec::new();
    for k in 0..12 {
        // A new Borda p: every chart of the figure is built anew.
        h.state_mut().settings.borda_p = 0.5 + 0.1 * k as f64;
        for _ in 0..6 {
            h.step();
        }
        sizes.push(h.ctx.memory(|m| m.data.len()));
    }
    let (first, last) = (sizes[1], *sizes.last().unwrap());
    assert!(
        last <= first + 2,
        "egui memory grew from {first} to {last} entries: {sizes:?}"
    );
}

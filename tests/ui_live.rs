//! Live sampling and forking in the app, with the real default model.

mod common;

use common::ui::{click, content, harness, harness_with, step_until, step_until_shown};
use reasonscope::run::{validate, Finish};
use reasonscope::ui::View;

#[test]
fn a_live_run_streams_stops_and_forks() {
    let mut h = harness(&[]);
    {
        let f = &mut h.state_mut().settings.form;
        f.model = common::model_path();
        f.n_paths = 4;
        f.max_tokens = 96;
        f.fork_m = 2;
    }
    click(&mut h, "New run");
    click(&mut h, "Start");
    assert!(
        step_until(&mut h, 120, |a| a
            .live
            .as_ref()
            .is_some_and(|l| l.live.tokens >= 8)),
        "no tokens streamed"
    );
    // The panel says where the model runs (this build: the CPU, said so).
    if reasonscope::engine::compiled_backend() == "cpu" {
        assert!(content(&h, "CPU build: this binary has no GPU support"));
    }
    // Paths appear in the Paths view while sampling.
    click(&mut h, "Paths");
    assert!(step_until(&mut h, 10, |a| a
        .runs
        .last()
        .is_some_and(|r| r.name.starts_with("live:"))));
    // The view catches up with the stream (re-analysed in the background):
    // a column of a path still sampling says so.
    assert!(
        step_until_shown(&mut h, 20, "tokens · running"),
        "no live path column"
    );
    assert!(h.state().live.is_some(), "still sampling");
    // Votes of paths still sampling are marked as such.
    click(&mut h, "Methods");
    assert!(
        step_until_shown(&mut h, 20, "running"),
        "no unfinished-paths note"
    );
    assert!(content(&h, "paths unfinished"));
    click(&mut h, "Paths");
    click(&mut h, "Stop");
    assert!(
        step_until(&mut h, 60, |a| a.live.is_none()),
        "stop never finished the run"
    );
    // After Stop, paths cut short are still marked unfinished.
    if h.state().runs[h.state().active]
        .run
        .paths
        .iter()
        .any(|p| p.turns[0].finish != Finish::Stop)
    {
        click(&mut h, "Methods");
        assert!(content(&h, "paths unfinished"));
        click(&mut h, "Paths");
    }
    let app = h.state();
    let r = &app.runs[app.active].run;
    validate(r).unwrap();
    assert_eq!(r.paths.len(), 4);
    assert!(r.total_tokens() >= 8);
    assert!(r.paths.iter().all(|p| p.turns[0].tokens.len() <= 96));
    assert!(
        r.paths
            .iter()
            .any(|p| p.turns[0].finish == Finish::Cancelled)
            || r.total_tokens() == 384
            || r.paths.iter().all(|p| p.turns[0].finish != Finish::Length)
    );
    let saved = app.runs[app.active]
        .path
        .clone()
        .expect("the finished run is saved in the runs folder");
    assert!(saved.exists());

    // Fork the longest path at half its length, from the Paths view.
    let (pi, parent) = r
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.turns[0].tokens.id.clone()))
        .max_by_key(|(_, ids)| ids.len())
        .unwrap();
    let k = parent.len() / 2;
    assert!(k >= 1);
    h.state_mut()
        .push(reasonscope::ui::AppCommand::SetPaths(vec![pi]));
    h.state_mut()
        .push(reasonscope::ui::AppCommand::SelectToken { path: pi, token: k });
    h.run_steps(3);
    click(&mut h, "Resample from here x 2");
    assert!(
        step_until(&mut h, 120, |a| a.live.is_none()
            && a.runs[a.active].run.paths.len() == 6),
        "fork did not finish"
    );
    let app = h.state();
    let r = &app.runs[app.active].run;
    validate(r).unwrap();
    for p in &r.paths[4..] {
        let f = p.fork.expect("fork field");
        assert_eq!((f.path as usize, f.turn, f.token as usize), (pi, 0, k));
        assert_eq!(p.turns[0].tokens.id[..k], parent[..k]);
    }
    assert_eq!(app.settings.view, View::Paths);
}

#[test]
fn a_broken_model_shows_why_and_the_app_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let mut h = harness(&[]);
    h.state_mut().settings.form.model = junk;
    click(&mut h, "New run");
    click(&mut h, "Start");
    assert!(step_until(&mut h, 30, |a| matches!(
        a.model,
        reasonscope::ui::live::ModelState::Failed { .. }
    )));
    h.run_steps(3);
    assert!(content(&h, "not a GGUF model file"));
    assert!(h.state().live.is_none());
    assert_eq!(h.state().runs.len(), 1);
    click(&mut h, "Entropy");
    assert!(content(&h, "Per-path summary"));
}

#[test]
fn an_unfinished_autosave_is_offered_at_start() {
    let sample =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-n16.json.gz");
    let mut h = harness_with(&[], |runs| {
        std::fs::copy(&sample, runs.join("autosave.json.gz")).unwrap();
    });
    assert!(content(&h, "did not finish last time"));
    click(&mut h, "Reopen it");
    h.run_steps(3);
    assert_eq!(h.state().runs.len(), 2);
    assert!(h.state().runs[1].name.starts_with("recovered-"));
    assert!(h.state().recover.is_none());
}

#[test]
fn the_new_run_panel_samples_a_conversation_with_drift() {
    let mut h = harness(&[]);
    {
        let f = &mut h.state_mut().settings.form;
        f.model = common::model_path();
        f.n_paths = 2;
        f.max_tokens = 24;
    }
    click(&mut h, "New run");
    click(&mut h, "+ message");
    assert_eq!(h.state().settings.form.follow_ups.len(), 1);
    assert!(content(&h, "User message (turn 2)"));
    h.state_mut().settings.form.drift = reasonscope::ui::DriftChoice::NoHistory;
    click(&mut h, "Start");
    assert!(
        step_until(&mut h, 180, |a| a.live.is_none()
            && a.runs.last().is_some_and(
                |r| r.run.n_turns() == 2 && r.run.paths.iter().all(|p| p.turns.len() == 2)
            )),
        "the two-turn run did not finish"
    );
    let r = h.state().runs.last().unwrap().run.clone();
    validate(&r).unwrap();
    assert!(r.paths.iter().all(|p| p.turns[1].tokens.kl_ref.is_some()));
    click(&mut h, "Drift");
    assert!(step_until_shown(&mut h, 20, "Answers per turn"));
}

#[test]
fn ask_the_model_judges_the_open_run_and_saves_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apples.json.gz");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_runs/apples-n16.json.gz"),
        &file,
    )
    .unwrap();
    let mut h = harness(std::slice::from_ref(&file));
    assert!(step_until(&mut h, 30, |a| !a.runs.is_empty()));
    h.state_mut().settings.form.model = common::model_path();
    click(&mut h, "Methods");
    // Not judged yet: the rows say why and how.
    assert!(content(&h, "not judged: asks the model again"));
    click(&mut h, "Ask the model");
    assert!(h.state().judging.is_some(), "judging started");
    assert!(
        step_until_shown(&mut h, 60, "asking the model:"),
        "no judging progress"
    );
    assert!(
        step_until(&mut h, 600, |a| a.judging.is_none()),
        "judging never finished"
    );
    let app = h.state();
    let r = &app.runs[app.active];
    assert_eq!(r.run.judgements.len(), 3);
    let p = r.turns[0].method("p_true").unwrap();
    assert!(p.unavailable.is_none() && p.answer.is_some());
    assert!(!content(&h, "not judged: asks the model again"));
    assert!(content(&h, "Ask the model again"));
    // Kept on disk (written in the background): the file holds them.
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < 30 {
        if reasonscope::run::read_run(&file).is_ok_and(|r| r.judgements.len() == 3) {
            return;
        }
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the judgements never reached the run file");
}

#[test]
fn ctrl_enter_starts_sampling_from_the_new_run_panel() {
    let mut h = harness(&[]);
    {
        let f = &mut h.state_mut().settings.form;
        f.model = common::model_path();
        f.n_paths = 2;
        f.max_tokens = 8;
    }
    // Closed panel: nothing starts.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(3);
    assert!(h.state().live.is_none());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    h.run_steps(3);
    assert!(h.state().panel_open);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run_steps(3);
    assert!(h.state().live.is_some(), "Ctrl+Enter started no run");
    assert!(
        step_until(&mut h, 120, |a| a.live.is_none()),
        "the run never ended"
    );
}

//! The app samples through the real llama-server from the New run panel
//! (the server's model list fetched from the URL), and the Methods view
//! says which statistics are bounds and which methods are unavailable.

mod common;
#[path = "common/server.rs"]
mod server;

use common::ui::{click, content, harness, step_until, step_until_shown};
use egui_kittest::kittest::Queryable;
use reasonscope::run::{validate, Source};
use reasonscope::ui::View;

#[test]
fn new_run_through_llama_server_shows_bounds_and_unavailable_methods() {
    let srv = server::LlamaServer::start(4, 512);
    let mut h = harness(&[]);
    {
        let f = &mut h.state_mut().settings.form;
        f.n_paths = 4;
        f.max_tokens = 32;
    }
    click(&mut h, "New run");
    click(&mut h, "Server (OpenAI API)");
    h.state_mut().settings.form.server_url = srv.url();
    click(&mut h, "Fetch models");
    // The server's one model is listed and chosen.
    assert!(
        step_until(&mut h, 30, |a| !a.settings.form.server_model.is_empty()),
        "the server's model list never arrived"
    );
    click(&mut h, "Start");
    assert!(
        step_until(&mut h, 120, |a| a.live.is_none() && !a.runs.is_empty()),
        "the run never finished"
    );
    let app = h.state();
    let r = &app.runs[app.active].run;
    validate(r).unwrap();
    assert_eq!(r.paths.len(), 4);
    assert_eq!(r.stats_source().source, Source::TopK);
    assert_eq!(r.remote.as_ref().unwrap().server, "llama-server");
    assert!(app.settings.form.recent_servers.contains(&srv.url()));
    h.state_mut()
        .push(reasonscope::ui::AppCommand::SetView(View::Methods));
    h.run_steps(3);
    assert!(step_until_shown(&mut h, 20, "entropy is a lower bound"));
    assert!(step_until_shown(&mut h, 5, "needs the full distribution"));
    // The Entropy view says its values are lower bounds.
    h.state_mut()
        .push(reasonscope::ui::AppCommand::SetView(View::Entropy));
    h.run_steps(3);
    assert!(step_until_shown(
        &mut h,
        20,
        "lower bound from the top-k logprobs"
    ));
    // A token's tooltip in the Paths view gives the bounds and says what
    // is unavailable (it used to index the absent self-certainty column).
    h.state_mut()
        .push(reasonscope::ui::AppCommand::SetView(View::Paths));
    h.run_steps(5);
    let text: String = {
        let app = h.state();
        app.runs[app.active].run.paths[0].turns[0]
            .text
            .chars()
            .take(12)
            .collect()
    };
    let r = h.get_by_label_contains(&text).rect();
    h.hover_at(r.left_top() + egui::vec2(4.0, 6.0));
    h.run_steps(60);
    assert!(
        content(&h, "self-certainty unavailable"),
        "no tooltip with the unavailable value"
    );
    assert!(content(&h, "(top-k bounds)"));
}

//! Structural checks a parsed run must pass; the message names the field
//! path of the first problem, e.g. `paths[3].turns[0].tokens.logprob: length 211, expected 212`.

use super::model::{Role, Rows, Run, Source, StatsSource, Tokens};

/// The most paths a run may hold: the analysis compares paths pairwise
/// (answers, shared prefixes), so a file of a million empty paths would
/// hold the app for hours. The engine samples at most 256.
pub const MAX_PATHS: usize = 4096;
/// The most messages a conversation may hold: every turn is analysed over
/// every path.
pub const MAX_MESSAGES: usize = 512;

/// A conversation of `n` messages is within `MAX_MESSAGES` (run files,
/// suites and conversation files say the same).
pub fn check_message_count(n: usize) -> Result<(), String> {
    if n > MAX_MESSAGES {
        return Err(format!(
            "{n} messages, more than the {MAX_MESSAGES} a run may hold"
        ));
    }
    Ok(())
}

pub fn validate(run: &Run) -> Result<(), String> {
    // Bounds first: what follows walks every path and turn.
    if run.paths.len() > MAX_PATHS {
        return Err(format!(
            "paths: {} paths, more than the {MAX_PATHS} a run may hold",
            run.paths.len()
        ));
    }
    check_message_count(run.conversation.len()).map_err(|e| format!("conversation: {e}"))?;
    let n_turns = run.n_turns();
    if n_turns == 0 {
        return Err("conversation: holds no user message".into());
    }
    if run.model.file.contains('/') || run.model.file.contains('\\') {
        return Err(format!(
            "model.file: {:?} must be a file name, not a path",
            run.model.file
        ));
    }
    if run.sampling.n_paths as usize != run.paths.len() {
        return Err(format!(
            "sampling.n_paths: {}, but paths holds {}",
            run.sampling.n_paths,
            run.paths.len()
        ));
    }
    if let Some(gold) = &run.gold {
        if gold.len() != n_turns {
            return Err(format!(
                "gold: length {}, expected {n_turns} (one per user message)",
                gold.len()
            ));
        }
    }
    if let Some(super::model::AnswerSpec::Regex { pattern }) = &run.answer {
        if let Err(e) = regex::Regex::new(pattern) {
            return Err(format!("answer.pattern: not a valid regex: {e}"));
        }
    }
    if run
        .conversation
        .first()
        .is_some_and(|m| m.role != Role::System && m.role != Role::User)
    {
        return Err("conversation[0].role: expected system or user".into());
    }
    let stats = run.stats.unwrap_or(StatsSource::FULL);
    match (run.model.backend.as_str(), stats.source) {
        ("remote", _) if run.remote.is_none() => {
            return Err("remote: missing (model.backend is \"remote\")".into())
        }
        ("import", _) if run.import.is_none() => {
            return Err("import: missing (model.backend is \"import\")".into())
        }
        ("remote" | "import", _) => {}
        (b, Source::TopK | Source::Text) => {
            return Err(format!(
                "stats.source: {:?} needs model.backend \"remote\" or \"import\", not {b:?}",
                stats.source.as_str()
            ))
        }
        _ => {}
    }
    if let Some(remote) = &run.remote {
        if remote.url.contains('@') {
            return Err("remote.url: must not hold credentials".into());
        }
    }
    let width = run.sampling.top_logprobs as usize;
    for (i, path) in run.paths.iter().enumerate() {
        let at = format!("paths[{i}]");
        if path.index as usize != i {
            return Err(format!("{at}.index: {}, expected {i}", path.index));
        }
        if path.turns.len() > n_turns {
            return Err(format!(
                "{at}.turns: {} turns, but the conversation has {n_turns} user messages",
                path.turns.len()
            ));
        }
        if let Some(fork) = path.fork {
            let Some(parent) = run.paths.get(fork.path as usize) else {
                return Err(format!(
                    "{at}.fork.path: {} is not a path of this run",
                    fork.path
                ));
            };
            let parent_len = parent.turns.get(fork.turn as usize).map(|t| t.tokens.len());
            match parent_len {
                Some(n) if fork.token as usize <= n => {}
                _ => {
                    return Err(format!(
                        "{at}.fork.token: {} is past the end of paths[{}].turns[{}]",
                        fork.token, fork.path, fork.turn
                    ))
                }
            }
        }
        for (t, turn) in path.turns.iter().enumerate() {
            let at = format!("{at}.turns[{t}]");
            check_tokens(&turn.tokens, width, stats.source, &format!("{at}.tokens"))?;
            let joined_len: usize = turn.tokens.text.iter().map(|s| s.len()).sum();
            if joined_len != turn.text.len() || !concat_equals(&turn.tokens.text, &turn.text) {
                return Err(format!(
                    "{at}.text: does not equal the concatenation of tokens.text"
                ));
            }
            if !turn.timing.start_ms.is_finite() || !turn.timing.end_ms.is_finite() {
                return Err(format!("{at}.timing: not a finite number"));
            }
        }
    }
    Ok(())
}

fn concat_equals(pieces: &[compact_str::CompactString], text: &str) -> bool {
    let mut rest = text;
    for p in pieces {
        match rest.strip_prefix(p.as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Which statistics columns a run of this source has: (column, present).
/// Run-format.md: a column the source cannot give is absent, never zeros.
fn expected_columns(tok: &Tokens, source: Source) -> [(&'static str, bool, bool); 7] {
    let scores = source != Source::Text;
    [
        ("logprob", tok.logprob.is_absent(), scores),
        ("entropy", tok.entropy.is_absent(), scores),
        (
            "self_certainty",
            tok.self_certainty.is_absent(),
            source == Source::Full,
        ),
        ("confidence", tok.confidence.is_absent(), scores),
        ("top_id", tok.top_id.is_absent(), scores),
        ("top_text", tok.top_text.is_absent(), scores),
        ("top_logprob", tok.top_logprob.is_absent(), scores),
    ]
}

fn check_tokens(tok: &Tokens, width: usize, source: Source, at: &str) -> Result<(), String> {
    let n = tok.id.len();
    for (name, absent, wanted) in expected_columns(tok, source) {
        // An empty turn of a full run may have been written without them.
        if absent && wanted && n > 0 {
            return Err(format!("{at}.{name}: missing"));
        }
        if !absent && !wanted && n > 0 {
            return Err(format!(
                "{at}.{name}: present, but stats.source {:?} cannot give it",
                source.as_str()
            ));
        }
    }
    let lens = [
        ("text", tok.text.len(), false),
        ("logprob", tok.logprob.len(), tok.logprob.is_absent()),
        ("entropy", tok.entropy.len(), tok.entropy.is_absent()),
        (
            "self_certainty",
            tok.self_certainty.len(),
            tok.self_certainty.is_absent(),
        ),
        (
            "confidence",
            tok.confidence.len(),
            tok.confidence.is_absent(),
        ),
        ("top_id", tok.top_id.len(), tok.top_id.is_absent()),
        ("top_text", tok.top_text.len(), tok.top_text.is_absent()),
        (
            "top_logprob",
            tok.top_logprob.len(),
            tok.top_logprob.is_absent(),
        ),
    ];
    for (name, len, absent) in lens {
        if len != n && !absent {
            return Err(format!("{at}.{name}: length {len}, expected {n}"));
        }
    }
    match (&tok.entropy_hi, source) {
        (Some(_), Source::Full | Source::Text) => {
            return Err(format!(
                "{at}.entropy_hi: present, but stats.source {:?} has no entropy bounds",
                source.as_str()
            ))
        }
        (Some(hi), _) => {
            if hi.len() != n {
                return Err(format!(
                    "{at}.entropy_hi: length {}, expected {n}",
                    hi.len()
                ));
            }
            check_finite(hi, &format!("{at}.entropy_hi"))?;
            if let Some(i) = (0..n).find(|&i| hi[i] + 1e-4 < tok.entropy[i]) {
                return Err(format!(
                    "{at}.entropy_hi[{i}]: {} is below the lower bound entropy[{i}] = {}",
                    hi[i], tok.entropy[i]
                ));
            }
        }
        _ => {}
    }
    if let Some(kl) = &tok.kl_ref {
        if kl.len() != n {
            return Err(format!("{at}.kl_ref: length {}, expected {n}", kl.len()));
        }
        check_finite(kl, &format!("{at}.kl_ref"))?;
    }
    check_rows(&tok.top_id, width, &format!("{at}.top_id"))?;
    check_rows(&tok.top_text, width, &format!("{at}.top_text"))?;
    check_rows(&tok.top_logprob, width, &format!("{at}.top_logprob"))?;
    check_finite(&tok.logprob, &format!("{at}.logprob"))?;
    check_finite(&tok.entropy, &format!("{at}.entropy"))?;
    check_finite(&tok.self_certainty, &format!("{at}.self_certainty"))?;
    check_finite(&tok.confidence, &format!("{at}.confidence"))?;
    Ok(())
}

fn check_rows<T: Clone>(rows: &Rows<T>, width: usize, at: &str) -> Result<(), String> {
    if let Some((i, len)) = rows.first_ragged() {
        return Err(format!(
            "{at}[{i}]: length {len}, expected {}",
            rows.width()
        ));
    }
    if !rows.is_empty() && rows.width() != width {
        return Err(format!(
            "{at}[0]: length {}, expected {width} (sampling.top_logprobs)",
            rows.width()
        ));
    }
    Ok(())
}

fn check_finite(values: &[f32], at: &str) -> Result<(), String> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(format!("{at}[{i}]: {} is not a finite number", values[i])),
        None => Ok(()),
    }
}

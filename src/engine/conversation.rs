//! What each path's context holds at the start of each turn, as token ids:
//! the first turn's prompt, then for turn t+1 the tokens of turn t's context,
//! the path's own answer as sampled (ids, not re-tokenized text) and the
//! tokens of what the chat template adds after it (end of the answer, the next
//! user message, the opened assistant turn). Because every later context
//! extends the earlier one token for token, the engine appends it to the
//! path's KV cache instead of decoding the history again. The reference
//! contexts of drift measurement are built here too.

use super::error::EngineError;
use super::model::LoadedModel;
use super::prompt;
use crate::run::{DriftReference, Message, Role, Run};

/// A context at the start of a turn: the rendered text it stands for and its
/// token ids. `kept` leading ids are the previous context followed by the
/// previous answer (0 when the template re-rendered the history differently
/// and the whole context must be decoded anew).
#[derive(Debug, Clone, PartialEq)]
pub struct TurnContext {
    pub text: String,
    pub tokens: Vec<i32>,
    pub kept: usize,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
    }
}

/// The messages a path sees when it answers turn `turn`: every message up to
/// that turn's user message, with the path's answer after each earlier user
/// message; with `reminder`, a system message just before the current one.
pub fn turn_messages(
    conversation: &[Message],
    answers: &[&str],
    turn: usize,
    reminder: Option<&str>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut user = 0;
    for m in conversation {
        if m.role == Role::User {
            if user == turn {
                if let Some(r) = reminder {
                    out.push(("system".to_owned(), r.to_owned()));
                }
                out.push(("user".to_owned(), m.content.clone()));
                break;
            }
            out.push(("user".to_owned(), m.content.clone()));
            out.push((
                "assistant".to_owned(),
                answers.get(user).copied().unwrap_or("").to_owned(),
            ));
            user += 1;
        } else {
            out.push((role_name(m.role).to_owned(), m.content.clone()));
        }
    }
    out
}

/// The "no history" reference for turn `turn`: the system messages that open
/// the conversation and the current user message.
pub fn no_history_messages(conversation: &[Message], turn: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = conversation
        .iter()
        .take_while(|m| m.role == Role::System)
        .map(|m| ("system".to_owned(), m.content.clone()))
        .collect();
    if let Some(m) = conversation
        .iter()
        .filter(|m| m.role == Role::User)
        .nth(turn)
    {
        out.push(("user".to_owned(), m.content.clone()));
    }
    out
}

pub(crate) fn tokenize(lm: &LoadedModel, text: &str, add_bos: bool) -> Vec<i32> {
    // parse_special lets the template's control tokens through as tokens.
    lm.model
        .vocab()
        .tokenize(text.as_bytes(), add_bos, true)
        .into_iter()
        .map(|t| t.0)
        .collect()
}

/// A context rendered and tokenized from scratch.
pub fn fresh(lm: &LoadedModel, messages: &[(String, String)]) -> Result<TurnContext, EngineError> {
    let rendered = prompt::render(lm, messages)?;
    let tokens = tokenize(lm, &rendered.text, true);
    Ok(TurnContext {
        text: rendered.text,
        tokens,
        kept: 0,
    })
}

/// The first turn's context and the prompt it renders (for the run's record).
pub fn first_turn(
    lm: &LoadedModel,
    conversation: &[Message],
) -> Result<(prompt::RenderedPrompt, TurnContext), EngineError> {
    let rendered = prompt::render(lm, &turn_messages(conversation, &[], 0, None))?;
    let tokens = tokenize(lm, &rendered.text, true);
    let ctx = TurnContext {
        text: rendered.text.clone(),
        tokens,
        kept: 0,
    };
    Ok((rendered, ctx))
}

/// The context of the next turn: `prev` (the context this answer was sampled
/// in), the answer's ids, then the template's continuation, tokenized alone.
pub fn extend(
    lm: &LoadedModel,
    prev: &TurnContext,
    answer_ids: &[i32],
    answer_text: &str,
    next_messages: &[(String, String)],
) -> Result<TurnContext, EngineError> {
    let rendered = prompt::render(lm, next_messages)?;
    let head_len = prev.text.len() + answer_text.len();
    let extends = rendered.text.starts_with(&prev.text)
        && rendered.text[prev.text.len()..].starts_with(answer_text);
    if !extends {
        // The template rewrote the history (e.g. trimmed the answer): the
        // model must see what the template renders, decoded from scratch.
        return fresh(lm, next_messages);
    }
    let mut tokens = Vec::with_capacity(prev.tokens.len() + answer_ids.len() + 64);
    tokens.extend_from_slice(&prev.tokens);
    tokens.extend_from_slice(answer_ids);
    let kept = tokens.len();
    tokens.extend(tokenize(lm, &rendered.text[head_len..], false));
    Ok(TurnContext {
        text: rendered.text,
        tokens,
        kept,
    })
}

/// The answers (text and ids) of path `path` before turn `turn`.
fn answers(run: &Run, path: usize, turn: usize) -> Result<Vec<&crate::run::Turn>, EngineError> {
    let p = run
        .paths
        .get(path)
        .ok_or_else(|| EngineError::InvalidRequest(format!("path {path} does not exist")))?;
    if p.turns.len() < turn {
        return Err(EngineError::InvalidRequest(format!(
            "path {path} has {} turns; turn {turn} has no context",
            p.turns.len()
        )));
    }
    Ok(p.turns[..turn].iter().collect())
}

/// The token ids path `path` of `run` had in its context when it started
/// turn `turn` (0-based), exactly as the engine feeds them.
pub fn turn_context(
    lm: &LoadedModel,
    run: &Run,
    path: usize,
    turn: usize,
) -> Result<TurnContext, EngineError> {
    let done = answers(run, path, turn)?;
    let texts: Vec<&str> = done.iter().map(|t| t.text.as_str()).collect();
    let mut ctx = fresh(lm, &turn_messages(&run.conversation, &texts, 0, None))?;
    for (t, answer) in done.iter().enumerate() {
        let next = turn_messages(&run.conversation, &texts, t + 1, None);
        ctx = extend(lm, &ctx, &answer.tokens.id, &answer.text, &next)?;
    }
    Ok(ctx)
}

/// The reference context for turn `turn` of path `path` (turn ≥ 1), given
/// the context that path started turn `turn − 1` in.
pub fn reference_from(
    lm: &LoadedModel,
    conversation: &[Message],
    reference: &DriftReference,
    prev: &TurnContext,
    texts: &[&str],
    last_answer_ids: &[i32],
    turn: usize,
) -> Result<TurnContext, EngineError> {
    match reference {
        DriftReference::NoHistory => fresh(lm, &no_history_messages(conversation, turn)),
        DriftReference::Reminder { text } => {
            let msgs = turn_messages(conversation, texts, turn, Some(text));
            extend(lm, prev, last_answer_ids, texts[turn - 1], &msgs)
        }
        DriftReference::Same => {
            let msgs = turn_messages(conversation, texts, turn, None);
            extend(lm, prev, last_answer_ids, texts[turn - 1], &msgs)
        }
    }
}

/// The reference context of turn `turn` of path `path` as the engine builds it.
pub fn reference_context(
    lm: &LoadedModel,
    run: &Run,
    path: usize,
    turn: usize,
    reference: &DriftReference,
) -> Result<TurnContext, EngineError> {
    if turn == 0 {
        return Err(EngineError::InvalidRequest(
            "the first turn has no drift reference".into(),
        ));
    }
    let done = answers(run, path, turn)?;
    let texts: Vec<&str> = done.iter().map(|t| t.text.as_str()).collect();
    let prev = turn_context(lm, run, path, turn - 1)?;
    reference_from(
        lm,
        &run.conversation,
        reference,
        &prev,
        &texts,
        &done[turn - 1].tokens.id,
        turn,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> Vec<Message> {
        let m = |role, c: &str| Message {
            role,
            content: c.into(),
        };
        vec![
            m(Role::System, "sys"),
            m(Role::User, "q1"),
            m(Role::User, "q2"),
            m(Role::User, "q3"),
        ]
    }

    fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
        v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
    }

    #[test]
    fn turn_messages_interleave_the_paths_answers() {
        let m = turn_messages(&conv(), &["a1", "a2"], 2, None);
        assert_eq!(
            pairs(&m),
            vec![
                ("system", "sys"),
                ("user", "q1"),
                ("assistant", "a1"),
                ("user", "q2"),
                ("assistant", "a2"),
                ("user", "q3")
            ]
        );
        let first = turn_messages(&conv(), &[], 0, None);
        assert_eq!(pairs(&first), vec![("system", "sys"), ("user", "q1")]);
    }

    #[test]
    fn reminder_goes_just_before_the_current_message() {
        let m = turn_messages(&conv(), &["a1"], 1, Some("remember"));
        assert_eq!(
            pairs(&m),
            vec![
                ("system", "sys"),
                ("user", "q1"),
                ("assistant", "a1"),
                ("system", "remember"),
                ("user", "q2")
            ]
        );
    }

    #[test]
    fn no_history_keeps_system_and_current_message_only() {
        let m = no_history_messages(&conv(), 2);
        assert_eq!(pairs(&m), vec![("system", "sys"), ("user", "q3")]);
    }
}

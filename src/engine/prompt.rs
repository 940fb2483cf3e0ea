//! Turning a conversation into prompt text: the model's own Jinja chat
//! template when it has one (rendered as llama-server, vLLM and
//! transformers do), llama.cpp's built-in match of it if the Jinja fails,
//! a plain "User:/Assistant:" layout for models without one (base models);
//! recorded in the run so that nobody mistakes one for the other.

use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};

use super::error::EngineError;
use super::model::LoadedModel;
use crate::run::PromptInfo;

pub struct RenderedPrompt {
    pub text: String,
    pub template: &'static str,
    pub note: Option<String>,
}

/// Render `messages` (system/user, plus earlier assistant answers given as
/// `(role, content)` pairs) ending with the assistant's turn opened.
pub fn render(
    lm: &LoadedModel,
    messages: &[(String, String)],
) -> Result<RenderedPrompt, EngineError> {
    let Some(source) = &lm.chat_template else {
        return Ok(RenderedPrompt {
            text: plain(messages),
            template: "plain",
            note: Some(
                "the model has no chat template (a base model); used the plain template".into(),
            ),
        });
    };
    match super::chat_template::render(source, messages, &lm.template_tokens) {
        Ok(text) => Ok(RenderedPrompt {
            text,
            template: "chat",
            note: None,
        }),
        Err(e) => {
            let mut r = builtin(&lm.model, messages)?;
            r.note = Some(format!(
                "{e}; used {}",
                if r.template == "chat" {
                    "llama.cpp's built-in match of the template"
                } else {
                    "the plain template"
                }
            ));
            Ok(r)
        }
    }
}

/// llama.cpp's built-in template matching (no Jinja logic).
fn builtin(
    model: &LlamaModel,
    messages: &[(String, String)],
) -> Result<RenderedPrompt, EngineError> {
    if let Ok(tmpl) = model.chat_template(None) {
        let chat: Result<Vec<_>, _> = messages
            .iter()
            .map(|(r, c)| LlamaChatMessage::new(r.clone(), c.clone()))
            .collect();
        let chat =
            chat.map_err(|e| EngineError::Template(format!("a message holds a NUL byte: {e}")))?;
        match model.apply_chat_template(&tmpl, &chat, true) {
            Ok(text) => {
                return Ok(RenderedPrompt {
                    text,
                    template: "chat",
                    note: None,
                })
            }
            Err(e) => {
                return Ok(RenderedPrompt {
                    text: plain(messages),
                    template: "plain",
                    note: Some(format!(
                    "the model's chat template could not be applied ({e}); used the plain template"
                )),
                })
            }
        }
    }
    Ok(RenderedPrompt {
        text: plain(messages),
        template: "plain",
        note: Some("the model has no chat template (a base model); used the plain template".into()),
    })
}

/// The fallback layout for models without a chat template.
pub fn plain(messages: &[(String, String)]) -> String {
    let mut s = String::new();
    for (role, content) in messages {
        let label = match role.as_str() {
            "system" => "System",
            "assistant" => "Assistant",
            _ => "User",
        };
        s.push_str(label);
        s.push(':');
        // An answer follows "Assistant:" exactly as sampled (it starts with
        // its own space), so that the next turn's prompt extends this one.
        if label != "Assistant" {
            s.push(' ');
        }
        s.push_str(content);
        s.push_str("\n\n");
    }
    s.push_str("Assistant:");
    s
}

pub fn prompt_info(p: &RenderedPrompt, n_tokens: usize) -> PromptInfo {
    PromptInfo {
        template: p.template.to_owned(),
        note: p.note.clone(),
        n_tokens: n_tokens as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_template_lays_out_roles() {
        let m = vec![
            ("system".to_owned(), "Be brief.".to_owned()),
            ("user".to_owned(), "2+2?".to_owned()),
        ];
        assert_eq!(plain(&m), "System: Be brief.\n\nUser: 2+2?\n\nAssistant:");
        // A later turn extends the earlier prompt with the answer as sampled.
        let mut m2 = m.clone();
        m2.push(("assistant".to_owned(), " 4".to_owned()));
        m2.push(("user".to_owned(), "Sure?".to_owned()));
        let first = plain(&m);
        let second = plain(&m2);
        assert!(second.starts_with(&format!("{first} 4")));
        assert!(second.ends_with("User: Sure?\n\nAssistant:"));
    }
}

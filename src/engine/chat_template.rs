//! A model's own Jinja chat template (the GGUF's `tokenizer.chat_template`)
//! rendered as llama-server, vLLM and transformers render it: minijinja
//! with Python's string methods (minijinja-contrib's pycompat), `messages`,
//! `bos_token`, `eos_token`, `add_generation_prompt`, and the helpers HF
//! templates call (`raise_exception`, `strftime_now`). Knows no backend.

use minijinja::{context, Environment, Error, ErrorKind, Value};

/// What a template needs besides the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateTokens {
    pub bos: String,
    pub eos: String,
    /// Whether the tokenizer adds BOS itself (then a BOS the template
    /// writes first is dropped, as llama.cpp does, so it is not doubled).
    pub adds_bos: bool,
}

/// Render `messages` (`(role, content)` pairs) with the assistant's turn
/// opened; the error says what in the template failed.
pub fn render(
    source: &str,
    messages: &[(String, String)],
    tokens: &TemplateTokens,
) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    minijinja_contrib::add_to_environment(&mut env);
    env.add_function("raise_exception", |msg: String| -> Result<Value, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, msg))
    });
    env.add_function("strftime_now", |fmt: String| {
        chrono::Utc::now().format(&fmt).to_string()
    });
    env.add_template("chat", source)
        .map_err(|e| format!("the chat template does not parse: {e}"))?;
    let msgs: Vec<Value> = messages
        .iter()
        .map(|(r, c)| context! { role => r, content => c })
        .collect();
    let out = env
        .get_template("chat")
        .and_then(|t| {
            t.render(context! {
                messages => msgs,
                bos_token => tokens.bos,
                eos_token => tokens.eos,
                add_generation_prompt => true,
            })
        })
        .map_err(|e| format!("the chat template failed: {e}"))?;
    Ok(match out.strip_prefix(tokens.bos.as_str()) {
        Some(rest) if tokens.adds_bos && !tokens.bos.is_empty() => rest.to_owned(),
        _ => out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(adds_bos: bool) -> TemplateTokens {
        TemplateTokens {
            bos: "<s>".into(),
            eos: "</s>".into(),
            adds_bos,
        }
    }

    #[test]
    fn renders_python_style_templates() {
        let src = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}[S]{{ m['content'].strip() }}{% else %}[{{ m.role.upper() }}]{{ m.content }}{% endif %}{% endfor %}{% if add_generation_prompt %}[A]{% endif %}";
        let m = vec![
            ("system".to_owned(), "  Be brief. ".to_owned()),
            ("user".to_owned(), "2+2?".to_owned()),
        ];
        assert_eq!(
            render(src, &m, &toks(false)).unwrap(),
            "<s>[S]Be brief.[USER]2+2?[A]"
        );
        // The tokenizer adds BOS itself: the template's is dropped.
        assert_eq!(
            render(src, &m, &toks(true)).unwrap(),
            "[S]Be brief.[USER]2+2?[A]"
        );
    }

    #[test]
    fn template_errors_are_named() {
        let e = render(
            "{{ raise_exception('roles must alternate') }}",
            &[],
            &toks(false),
        )
        .unwrap_err();
        assert!(e.contains("roles must alternate"), "{e}");
        assert!(render("{% for %}", &[], &toks(false))
            .unwrap_err()
            .contains("does not parse"));
    }
}

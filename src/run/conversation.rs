//! Conversation files (`sample --conversation`): a JSON array of
//! `{"role", "content"}` messages, or an object with `conversation` and
//! optionally `gold` (one per user message), as in a run file.

use super::model::Message;

/// One gold answer per user message (None: unknown), when any is known.
pub type Gold = Option<Vec<Option<String>>>;

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ConversationFile {
    Messages(Vec<Message>),
    Object {
        conversation: Vec<Message>,
        #[serde(default)]
        gold: Gold,
    },
}

/// The messages and gold answers of a conversation file's bytes; `Err`
/// says what was expected.
pub fn parse_conversation(bytes: &[u8]) -> Result<(Vec<Message>, Gold), String> {
    let parsed: ConversationFile = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not a conversation (expected a JSON array of {{\"role\", \"content\"}} messages or {{\"conversation\": [...], \"gold\": [...]}}): {e}"
        )
    })?;
    let (m, gold) = match parsed {
        ConversationFile::Messages(m) => (m, None),
        ConversationFile::Object { conversation, gold } => (conversation, gold),
    };
    super::validate::check_message_count(m.len())?;
    Ok((m, gold))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Role;

    #[test]
    fn both_shapes_are_read_and_others_named() {
        let (m, g) = parse_conversation(br#"[{"role":"user","content":"hi"}]"#).unwrap();
        assert_eq!((m.len(), m[0].role, g), (1, Role::User, None));
        let (m, g) = parse_conversation(
            br#"{"conversation":[{"role":"user","content":"a"},{"role":"user","content":"c"}],"gold":["1",null]}"#,
        )
        .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(g, Some(vec![Some("1".into()), None]));
        for bad in [
            &b"{}"[..],
            b"[1]",
            b"\xff",
            b"",
            br#"[{"role":"robot","content":"x"}]"#,
        ] {
            let e = parse_conversation(bad).unwrap_err();
            assert!(e.starts_with("not a conversation"), "{e}");
        }
    }
}

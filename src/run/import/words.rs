//! What a "token" is in a text-only import without a tokenizer: a word
//! (letters, digits, `_`) or a single other character, each with the
//! whitespace before it. Concatenated, the pieces give the text back.

pub fn split(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some(&(_, c)) = chars.peek() {
        // Leading whitespace belongs to the piece that follows it.
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let word = c.is_alphanumeric() || c == '_';
        chars.next();
        if word {
            while chars
                .peek()
                .is_some_and(|&(_, c)| c.is_alphanumeric() || c == '_')
            {
                chars.next();
            }
        }
        let end = chars.peek().map_or(text.len(), |&(i, _)| i);
        out.push(&text[start..end]);
        start = end;
    }
    if start < text.len() {
        // Trailing whitespace joins the last piece (or is the only one).
        match out.last_mut() {
            Some(last) => *last = &text[start - last.len()..],
            None => out.push(&text[start..]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words_punctuation_and_whitespace() {
        assert_eq!(
            split("Sara has 8, so 3+5=8.\n\nDone "),
            vec![
                "Sara",
                " has",
                " 8",
                ",",
                " so",
                " 3",
                "+",
                "5",
                "=",
                "8",
                ".",
                "\n\nDone "
            ]
        );
        assert_eq!(split("  "), vec!["  "]);
        assert!(split("").is_empty());
        assert_eq!(split("é€x"), vec!["é", "€", "x"]);
        for t in ["a  b\t\n", " x", "¿qué?"] {
            assert_eq!(split(t).concat(), t);
        }
    }
}

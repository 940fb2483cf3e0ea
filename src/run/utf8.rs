//! Joins token pieces into text so that a character split over several
//! tokens belongs to the token that completes it.

#[derive(Debug, Default, Clone)]
pub struct Utf8Joiner {
    pending: Vec<u8>,
}

impl Utf8Joiner {
    /// Append a token's bytes; return the text that is now complete. Bytes of
    /// an unfinished character stay pending; invalid bytes become U+FFFD.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        // Read on from `at` and drain once at the end: draining after each
        // invalid byte moved the rest every time (quadratic in the bytes).
        let mut at = 0;
        loop {
            match std::str::from_utf8(&self.pending[at..]) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // The prefix was just validated.
                    out.push_str(
                        std::str::from_utf8(&self.pending[at..at + valid]).unwrap_or_default(),
                    );
                    match e.error_len() {
                        None => {
                            self.pending.drain(..at + valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            at += valid + bad;
                        }
                    }
                }
            }
        }
    }

    /// What is left at the end of a path (an unfinished character), made
    /// printable.
    pub fn finish(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_character_goes_to_completing_token() {
        let bytes = "é€".as_bytes(); // c3 a9 e2 82 ac
        let mut j = Utf8Joiner::default();
        assert_eq!(j.push(&bytes[..1]), "");
        assert_eq!(j.push(&bytes[1..3]), "é");
        assert_eq!(j.push(&bytes[3..4]), "");
        assert_eq!(j.push(&bytes[4..]), "€");
        assert_eq!(j.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement() {
        let mut j = Utf8Joiner::default();
        assert_eq!(j.push(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(j.push(b"\xe2\x82"), "");
        assert_eq!(j.finish(), "\u{FFFD}");
    }

    #[test]
    fn many_invalid_bytes_are_read_in_one_pass() {
        let mut j = Utf8Joiner::default();
        let mut bytes = vec![0xffu8; 1 << 20];
        bytes.extend_from_slice(b"ok\xe2\x82");
        let out = j.push(&bytes);
        assert_eq!(out.chars().filter(|&c| c == '\u{FFFD}').count(), 1 << 20);
        assert!(out.ends_with("ok"));
        assert_eq!(j.push(b"\xac"), "€");
    }
}

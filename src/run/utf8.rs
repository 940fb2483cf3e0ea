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
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // SAFETY-free: the prefix was just validated.
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).unwrap_or_default());
                    match e.error_len() {
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            self.pending.drain(..valid + bad);
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
}

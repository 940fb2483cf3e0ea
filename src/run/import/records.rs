//! Reading a source file record by record, so that a file of any size is
//! imported in bounded memory: a JSON document is one record, a top-level
//! JSON array gives one record per element (streamed), and JSON Lines one
//! per line. Gzip is recognised by its magic bytes and inflated as a stream.

use std::io::{BufRead, BufReader, Read};

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;

use crate::run::io::{env_mib, BOM, GZIP_MAGIC};

/// How the file holds its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Document,
    Array,
    Lines,
}

/// One record: 1-based `index`, its line in JSON Lines, and its value or
/// what is wrong with its JSON.
pub struct Record<'a> {
    pub index: u64,
    pub line: Option<u64>,
    pub layout: Layout,
    pub value: Result<Raw<'a>, String>,
}

/// A record parsed, or a JSON line left for the reader to parse (a typed
/// fast path may read it without a `Value` tree). The line's buffer is
/// the reader's, reused for the next line.
pub enum Raw<'a> {
    Value(Value),
    Line(&'a [u8]),
}

impl Raw<'_> {
    pub fn into_value(self) -> Result<Value, String> {
        match self {
            Raw::Value(v) => Ok(v),
            Raw::Line(b) => serde_json::from_slice(b).map_err(|e| describe(&e)),
        }
    }
}

/// Whether the first bytes of a file are a reasonscope run file (its
/// `format` field comes first), gzip or not.
pub fn looks_like_run(prefix: &[u8]) -> bool {
    let mut head = Vec::new();
    if prefix.starts_with(&GZIP_MAGIC) {
        // A prefix of a gzip stream inflates as far as it goes.
        let _ = flate2::read::GzDecoder::new(prefix)
            .take(4096)
            .read_to_end(&mut head);
    } else {
        head.extend_from_slice(&prefix[..prefix.len().min(4096)]);
    }
    let text = String::from_utf8_lossy(head.strip_prefix(BOM).unwrap_or(&head));
    let t = text.trim_start();
    // Cut on a character: a byte cut inside one panicked on any file whose
    // 512th byte fell in a multi-byte character.
    t.starts_with('{') && t[..t.floor_char_boundary(512)].contains("\"reasonscope.run\"")
}

/// Counts the bytes read (reported at most every 256 KiB).
struct Counting<'a, R> {
    inner: R,
    read: u64,
    reported: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.reported >= 256 * 1024 || n == 0 {
            self.reported = self.read;
            (self.progress)(self.read);
        }
        Ok(n)
    }
}

/// What a JSON error means to the user.
fn describe(e: &serde_json::Error) -> String {
    if e.is_eof() {
        format!("truncated: the JSON ends early ({e})")
    } else {
        format!("not valid JSON ({e})")
    }
}

/// Skip a BOM and whitespace; return the next byte without consuming it.
fn peek(r: &mut dyn BufRead) -> std::io::Result<Option<u8>> {
    let mut first = true;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        if first && buf.starts_with(BOM) {
            r.consume(BOM.len());
            first = false;
            continue;
        }
        first = false;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                r.consume(i);
                return Ok(Some(b));
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

struct Elements<'a> {
    on: &'a mut dyn FnMut(Record) -> bool,
    /// Bytes read for the element being parsed, and the most it may take
    /// (see `Budget`).
    used: std::rc::Rc<std::cell::Cell<u64>>,
    limit: u64,
}

/// The reader under an array's parser: it counts the bytes of the element
/// being parsed and fails the read past `max_record()`, so that one
/// element is bounded as one JSON line is (it was parsed whole, however
/// large).
struct Budget<R> {
    inner: R,
    used: std::rc::Rc<std::cell::Cell<u64>>,
    limit: u64,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let used = self.used.get() + n as u64;
        self.used.set(used);
        if used > self.limit {
            return Err(std::io::Error::other(too_long()));
        }
        Ok(n)
    }
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            index += 1;
            self.used.set(0);
            let value = match seq.next_element::<Value>() {
                Ok(Some(v)) => Ok(v),
                Ok(None) => return Ok(()),
                Err(e) => Err(e.to_string()),
            };
            let stop = value.is_err();
            let more = (self.on)(Record {
                index,
                line: None,
                layout: Layout::Array,
                value: value.map(Raw::Value).map_err(|e| {
                    if self.used.get() > self.limit {
                        too_long()
                    } else if e.contains("EOF") {
                        format!("truncated: the JSON ends early ({e})")
                    } else {
                        format!("not valid JSON ({e})")
                    }
                }),
            });
            if stop || !more {
                return Ok(());
            }
        }
    }
}

/// Read every record of `reader`, calling `on` for each until it returns
/// false. `Err` only when the bytes cannot be read at all.
pub fn read(
    reader: impl Read,
    progress: &mut dyn FnMut(u64),
    on: &mut dyn FnMut(Record) -> bool,
) -> Result<(), String> {
    let counting = Counting {
        inner: reader,
        read: 0,
        reported: 0,
        progress,
    };
    let mut raw = BufReader::with_capacity(1 << 16, counting);
    let gz = raw
        .fill_buf()
        .map_err(|e| format!("cannot read: {e}"))?
        .starts_with(&GZIP_MAGIC);
    let mut r: Box<dyn BufRead + '_> = if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    let io = |e: std::io::Error| {
        if gz {
            format!("not a valid gzip stream ({e}); the file may be truncated")
        } else {
            format!("cannot read: {e}")
        }
    };
    match peek(&mut r).map_err(io)? {
        None => Ok(()),
        Some(b'[') => {
            let (used, limit) = (std::rc::Rc::new(std::cell::Cell::new(0)), max_record());
            let mut de = serde_json::Deserializer::from_reader(Budget {
                inner: r,
                used: used.clone(),
                limit,
            });
            // Errors after the records were handed out (a missing `]`) were
            // already reported by the visitor.
            let _ = de.deserialize_seq(Elements { on, used, limit });
            Ok(())
        }
        Some(_) => {
            let mut first = Vec::new();
            if !bounded_line(&mut r, &mut first).map_err(io)? {
                on(Record {
                    index: 1,
                    line: Some(1),
                    layout: Layout::Lines,
                    value: Err(too_long()),
                });
                return Ok(());
            }
            // Checked without building it: a line may be large.
            let complete = serde_json::from_slice::<serde::de::IgnoredAny>(&first).is_ok();
            let more = peek(&mut r).map_err(io)?.is_some();
            match complete {
                true if more => {
                    if !on(Record {
                        index: 1,
                        line: Some(1),
                        layout: Layout::Lines,
                        value: Ok(Raw::Line(&first)),
                    }) {
                        return Ok(());
                    }
                    lines(&mut r, on, first).map_err(io)
                }
                true => {
                    on(Record {
                        index: 1,
                        line: None,
                        layout: Layout::Document,
                        value: Ok(Raw::Line(&first)),
                    });
                    Ok(())
                }
                false => {
                    // A document over several lines (pretty-printed).
                    (&mut r)
                        .take(max_record())
                        .read_to_end(&mut first)
                        .map_err(io)?;
                    if first.len() as u64 >= max_record() {
                        on(Record {
                            index: 1,
                            line: None,
                            layout: Layout::Document,
                            value: Err(too_long()),
                        });
                        return Ok(());
                    }
                    on(Record {
                        index: 1,
                        line: None,
                        layout: Layout::Document,
                        value: serde_json::from_slice(&first)
                            .map(Raw::Value)
                            .map_err(|e| describe(&e)),
                    });
                    Ok(())
                }
            }
        }
    }
}

/// The longest record (a line, or a whole document) read into memory:
/// 1 GiB by default, `REASONSCOPE_MAX_RECORD_MB` to change it.
pub fn max_record() -> u64 {
    env_mib("REASONSCOPE_MAX_RECORD_MB", 1024)
}

fn too_long() -> String {
    format!(
        "longer than {} MiB, the limit for one record (set REASONSCOPE_MAX_RECORD_MB to raise it)",
        max_record() >> 20
    )
}

/// Read up to a newline, at most `max_record()` bytes; `Ok(false)` when the
/// line was longer (the rest of it is skipped). `buf` grows by a quarter
/// at a time, not double: it is reused for every line, and a doubled
/// buffer would hold up to twice the longest line for the whole import.
fn bounded_line(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let limit = max_record();
    let mut long = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let (n, end) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !long && (buf.len() + n) as u64 > limit {
            // Skip the rest of the line without keeping it.
            long = true;
            buf.clear();
            buf.shrink_to_fit();
        }
        if !long {
            if buf.capacity() - buf.len() < n {
                buf.reserve_exact(n.max(buf.len() / 4));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        r.consume(n);
        if end {
            break;
        }
    }
    Ok(!long)
}

/// JSON Lines after the first: one record per non-blank line.
fn lines(
    r: &mut dyn BufRead,
    on: &mut dyn FnMut(Record) -> bool,
    mut buf: Vec<u8>,
) -> std::io::Result<()> {
    let mut line = 1u64;
    let mut index = 1u64;
    loop {
        buf.clear();
        let whole = bounded_line(r, &mut buf)?;
        if whole && buf.is_empty() {
            return Ok(());
        }
        line += 1;
        if whole && buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        index += 1;
        if !whole {
            if !on(Record {
                index,
                line: Some(line),
                layout: Layout::Lines,
                value: Err(too_long()),
            }) {
                return Ok(());
            }
            continue;
        }
        if !on(Record {
            index,
            line: Some(line),
            layout: Layout::Lines,
            value: Ok(Raw::Line(&buf)),
        }) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_head_cut_inside_a_character_is_read() {
        // The 512th byte falls inside "é" (2 bytes), whatever the offset.
        for pad in 0..4 {
            let line = format!("{{\"prompt\": \"{}{}\"}}", "x".repeat(pad), "é".repeat(400));
            assert!(!super::looks_like_run(line.as_bytes()));
        }
        let run = format!(
            "{{\"format\": \"reasonscope.run\", \"t\": \"{}\"}}",
            "é".repeat(400)
        );
        assert!(super::looks_like_run(run.as_bytes()));
    }
}

//! The fast path for the common case, a chat completion line
//! (`openai-chat`): parsed from the line's bytes straight into each path's
//! columns (`TopKBuilder`), with no `Value` tree and no per-token structs.
//! The source spells out every alternative of every token, so it is about
//! three times the bytes of the run it becomes. A large line's choices are
//! parsed on several cores: the line is walked as JSON from a few guessed
//! choice starts at once, and each part must meet the next part's start
//! exactly as a choice boundary, or the line is parsed in one piece.
//! Anything unexpected returns `None`, and the record goes through
//! `openai_chat::convert`, which names the problem.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::entries;
use super::finish;
use super::trace::{BuiltPath, Sample, TopKBuilder, Trace};
use crate::run::model::Finish;
use crate::run::topk::Candidate;
use crate::run::Distribution;

/// Lines shorter than this are parsed in one piece (a thread costs more).
const PART_BYTES: usize = 1 << 20;

/// A chat completion response's trace, or `None` when the line is not the
/// plain shape with logprobs and alternatives for every token.
pub fn convert(line: &[u8], vocab: Option<u32>) -> Option<Vec<Trace>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    convert_in(line, vocab, cores.min(line.len() / PART_BYTES).clamp(1, 8))
}

/// `convert` in at most `parts` parts.
fn convert_in(line: &[u8], vocab: Option<u32>, parts: usize) -> Option<Vec<Trace>> {
    let starts = guess_starts(line, parts);
    let walked = if starts.is_empty() {
        vec![walk(line, None, None, vocab)?]
    } else {
        match walk_parts(line, &starts, vocab) {
            Some(w) => w,
            None => vec![walk(line, None, None, vocab)?],
        }
    };
    let mut model = None;
    let mut choices = Vec::new();
    for w in walked {
        model = model.or(w.model);
        choices.extend(w.choices);
    }
    if choices.is_empty() {
        return None;
    }
    // Stable: choices without an index keep their order.
    choices.sort_by_key(|c| c.0);
    let mut trace = Trace::new(Distribution::Raw);
    trace.model = model;
    for (_, finish, built) in choices {
        trace.samples.push(Sample {
            // The built path holds it (`Sample::text`).
            text: String::new(),
            finish,
            tokens: None,
            exact: None,
            built: Some(built),
        });
    }
    Some(vec![trace])
}

/// Each part on its own thread (the first on this one); `None` unless
/// every part met the next one's start.
fn walk_parts(line: &[u8], starts: &[usize], vocab: Option<u32>) -> Option<Vec<Walked>> {
    let stop = |i: usize| starts.get(i).copied();
    std::thread::scope(|scope| {
        let others: Vec<_> = starts
            .iter()
            .enumerate()
            .map(|(i, &s)| scope.spawn(move || walk(line, Some(s), stop(i + 1), vocab)))
            .collect();
        let first = walk(line, None, stop(0), vocab);
        let mut all = vec![first];
        all.extend(others.into_iter().map(|h| h.join().ok().flatten()));
        let all: Option<Vec<Walked>> = all.into_iter().collect();
        let all = all?;
        let n = all.len();
        all.iter().take(n - 1).all(|w| w.met_stop).then_some(all)
    })
}

/// Where choices probably start, one per part after the first: the
/// `},{"index"` (or another key a choice starts with) nearest each share
/// of the line. Only a guess: `walk` proves or refutes it.
fn guess_starts(line: &[u8], parts: usize) -> Vec<usize> {
    const KEYS: [&[u8]; 4] = [
        b"\"index\"",
        b"\"finish_reason\"",
        b"\"message\"",
        b"\"logprobs\"",
    ];
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let fits = |i: usize| {
        let after = &line[i + 1..];
        let key_at = after.iter().position(|&b| !is_ws(b)).unwrap_or(after.len());
        if !KEYS.iter().any(|k| after[key_at..].starts_with(k)) {
            return false;
        }
        let mut before = line[..i].iter().rev().copied().filter(|&b| !is_ws(b));
        before.next() == Some(b',') && before.next() == Some(b'}')
    };
    // The boundary nearest each share, so that the parts are even.
    let mut starts: Vec<usize> = Vec::new();
    for j in 1..parts {
        let at = line.len() * j / parts;
        let lo = starts
            .last()
            .map_or(0, |&s| s + 1)
            .max(at.saturating_sub(PART_BYTES));
        let hi = (at + PART_BYTES).min(line.len());
        if lo >= hi {
            continue;
        }
        let after = memchr::memchr_iter(b'{', &line[at.max(lo)..hi])
            .map(|i| at.max(lo) + i)
            .find(|&i| fits(i));
        let before = memchr::memrchr_iter(b'{', &line[lo..at.max(lo)])
            .map(|i| lo + i)
            .find(|&i| fits(i));
        let best = match (before, after) {
            (Some(b), Some(a)) => Some(if at - b < a - at { b } else { a }),
            (b, a) => a.or(b),
        };
        if let Some(s) = best.filter(|&s| s > 0) {
            starts.push(s);
        }
    }
    starts
}

/// What one part of a line gave.
struct Walked {
    model: Option<String>,
    choices: Vec<Choice>,
    /// It reached the next part's start as the start of a choice.
    met_stop: bool,
}

type Choice = (u64, Finish, BuiltPath);

/// A cursor over a line's JSON: the structure of the response object and
/// its `choices` array is walked here; every value is parsed by serde_json.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) -> Option<u8> {
        while let Some(&b) = self.s.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.ws()? == b).then(|| self.pos += 1)
    }

    /// One JSON value at the cursor.
    fn value<T: Deserialize<'a>>(&mut self) -> Option<T> {
        let mut it = serde_json::Deserializer::from_slice(&self.s[self.pos..]).into_iter::<T>();
        let v = it.next()?.ok()?;
        self.pos += it.byte_offset();
        Some(v)
    }
}

/// What a choice is parsed with.
struct Ctx {
    vocab: Option<u32>,
    /// One token's candidates (reused: no allocation per token).
    scratch: Vec<Candidate>,
    /// The last path's length: the next one's columns are sized for it,
    /// so that they need neither regrowing nor shrinking when the
    /// paths are alike.
    hint: usize,
}

thread_local! {
    /// This thread's context (`ChoiceIn`).
    static CONTEXT: RefCell<Ctx> = const {
        RefCell::new(Ctx { vocab: None, scratch: Vec::new(), hint: 0 })
    };
}

/// A choice, parsed with this thread's `CONTEXT`.
struct ChoiceIn(Choice);

impl<'de> Deserialize<'de> for ChoiceIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CONTEXT.with_borrow_mut(|ctx| ChoiceSeed { ctx }.deserialize(d).map(ChoiceIn))
    }
}

/// Walk the response from its start (`from` None) or from a choice's
/// start, until the end of the line or until a choice starts at `stop`.
fn walk(
    line: &[u8],
    from: Option<usize>,
    stop: Option<usize>,
    vocab: Option<u32>,
) -> Option<Walked> {
    CONTEXT.with_borrow_mut(|c| c.vocab = vocab);
    let mut c = Cursor { s: line, pos: 0 };
    let mut out = Walked {
        model: None,
        choices: Vec::new(),
        met_stop: false,
    };
    let mut seen_choices = false;
    let mut in_choices = match from {
        Some(p) => {
            c.pos = p;
            seen_choices = true;
            true
        }
        None => {
            c.eat(b'{')?;
            false
        }
    };
    let mut first_key = from.is_none();
    loop {
        if in_choices {
            // At a choice's start (or at `]` for an empty array).
            if from.is_none() && out.choices.is_empty() && c.ws()? == b']' {
                c.pos += 1;
            } else {
                loop {
                    c.ws()?;
                    if stop == Some(c.pos) {
                        out.met_stop = true;
                        return Some(out);
                    }
                    out.choices.push(c.value::<ChoiceIn>()?.0);
                    match c.ws()? {
                        b',' => c.pos += 1,
                        b']' => {
                            c.pos += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            in_choices = false;
            first_key = false;
        }
        // Between the response's keys.
        match c.ws()? {
            b'}' => {
                c.pos += 1;
                return (c.ws().is_none() && stop.is_none() && seen_choices).then_some(out);
            }
            b',' if !first_key => c.pos += 1,
            b'"' if first_key => {}
            _ => return None,
        }
        first_key = false;
        let key: Str = c.value()?;
        c.eat(b':')?;
        match &*key.0 {
            "choices" => {
                if seen_choices {
                    return None;
                }
                seen_choices = true;
                c.eat(b'[')?;
                in_choices = true;
            }
            "model" => out.model = c.value::<Option<Str>>()?.map(|s| s.0.into_owned()),
            _ => {
                c.value::<IgnoredAny>()?;
            }
        }
    }
}

/// A field name, compared as raw bytes: serde_json then skips the UTF-8
/// check it makes for every `str` (a sixth of the import's time went to
/// field names). An unknown name is still checked, as `str` would be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Token,
    Bytes,
    Logprob,
    TopLogprobs,
    Content,
    Index,
    FinishReason,
    Message,
    Logprobs,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Key, E> {
                Ok(match b {
                    b"id" => Key::Id,
                    b"token" => Key::Token,
                    b"bytes" => Key::Bytes,
                    b"logprob" => Key::Logprob,
                    b"top_logprobs" => Key::TopLogprobs,
                    b"content" => Key::Content,
                    b"index" => Key::Index,
                    b"finish_reason" => Key::FinishReason,
                    b"message" => Key::Message,
                    b"logprobs" => Key::Logprobs,
                    _ => {
                        std::str::from_utf8(b)
                            .map_err(|_| E::custom("a field name that is not UTF-8"))?;
                        Key::Other
                    }
                })
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                self.visit_bytes(s.as_bytes())
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A string, borrowed from the line unless it had escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A logprob: a number, or −∞ written as null or a string ("-inf");
/// `None` for anything else (the slow path then names it).
struct Lp(Option<f32>);

impl<'de> Deserialize<'de> for Lp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Lp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a logprob")
            }
            fn visit_f64<E>(self, x: f64) -> Result<Lp, E> {
                Ok(Lp(Some(x as f32)))
            }
            fn visit_i64<E>(self, x: i64) -> Result<Lp, E> {
                Ok(Lp(Some(x as f32)))
            }
            fn visit_u64<E>(self, x: u64) -> Result<Lp, E> {
                Ok(Lp(Some(x as f32)))
            }
            fn visit_unit<E>(self) -> Result<Lp, E> {
                Ok(Lp(Some(f32::NEG_INFINITY)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Lp, E> {
                Ok(Lp((s.contains("inf") || s.eq_ignore_ascii_case("nan"))
                    .then_some(f32::NEG_INFINITY)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A token's `bytes` without a heap allocation for the usual short token
/// (one per candidate: hundreds of thousands per response).
enum Bytes {
    Inline(u8, [u8; 22]),
    Heap(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline(n, b) => &b[..*n as usize],
            Bytes::Heap(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Bytes, A::Error> {
                let mut out = Bytes::Inline(0, [0; 22]);
                while let Some(x) = a.next_element::<u8>()? {
                    match &mut out {
                        Bytes::Inline(n, b) if (*n as usize) < b.len() => {
                            b[*n as usize] = x;
                            *n += 1;
                        }
                        Bytes::Inline(_, b) => {
                            let mut v = b.to_vec();
                            v.push(x);
                            out = Bytes::Heap(v);
                        }
                        Bytes::Heap(v) => v.push(x),
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

/// `null` or the value `S` reads.
struct Opt<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Opt<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V<S>(S);
        impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for V<S> {
            type Value = Option<S::Value>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("null or a value")
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                self.0.deserialize(d).map(Some)
            }
        }
        d.deserialize_option(V(self.0))
    }
}

struct ChoiceSeed<'s> {
    ctx: &'s mut Ctx,
}

impl<'de> DeserializeSeed<'de> for ChoiceSeed<'_> {
    type Value = Choice;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChoiceSeed<'_> {
    type Value = Choice;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a choice")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Choice, A::Error> {
        let mut index = 0;
        let mut reason: Option<Str> = None;
        let mut message = false;
        let mut built = None;
        while let Some(k) = map.next_key::<Key>()? {
            match k {
                Key::Index => index = map.next_value::<Option<u64>>()?.unwrap_or(0),
                Key::FinishReason => reason = map.next_value()?,
                Key::Message => {
                    map.next_value::<IgnoredAny>()?;
                    message = true;
                }
                Key::Logprobs => {
                    built = map
                        .next_value_seed(Opt(Logprobs {
                            ctx: &mut *self.ctx,
                        }))?
                        .flatten()
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !message {
            return Err(de::Error::missing_field("message"));
        }
        // Without logprobs the run is text only: the general path.
        let built = built.ok_or_else(|| de::Error::missing_field("logprobs.content"))?;
        Ok((index, finish(reason.as_ref().map(|r| &*r.0)), built))
    }
}

/// `logprobs`: its `content`, read into a path.
struct Logprobs<'s> {
    ctx: &'s mut Ctx,
}

impl<'de> DeserializeSeed<'de> for Logprobs<'_> {
    type Value = Option<BuiltPath>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Logprobs<'_> {
    type Value = Option<BuiltPath>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a logprobs object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut built = None;
        while let Some(k) = map.next_key::<Key>()? {
            match k {
                Key::Content => {
                    built = map.next_value_seed(Opt(Content {
                        ctx: &mut *self.ctx,
                    }))?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(built)
    }
}

/// `logprobs.content`: one entry per generated token.
struct Content<'s> {
    ctx: &'s mut Ctx,
}

impl<'de> DeserializeSeed<'de> for Content<'_> {
    type Value = BuiltPath;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Content<'_> {
    type Value = BuiltPath;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of token entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BuiltPath, A::Error> {
        let mut builder = TopKBuilder::new(self.ctx.vocab, false);
        builder.reserve(self.ctx.hint);
        while seq
            .next_element_seed(Entry {
                builder: &mut builder,
                scratch: &mut self.ctx.scratch,
            })?
            .is_some()
        {}
        let built = builder.finish();
        self.ctx.hint = built.tokens.id.len();
        Ok(built)
    }
}

/// One token's entry, pushed into the path as soon as it is read.
struct Entry<'s> {
    builder: &'s mut TopKBuilder,
    scratch: &'s mut Vec<Candidate>,
}

impl<'de> DeserializeSeed<'de> for Entry<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// One returned candidate. Its `bytes` are read only when its token's text
/// may differ from them (`entries::text_unreliable`): otherwise they are
/// the text, and skipping the list saves a fifth of the whole import.
struct Cand(Candidate);

impl<'de> Deserialize<'de> for Cand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cand;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a candidate")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cand, A::Error> {
                let mut id = None;
                let mut token: Option<Str> = None;
                let mut bytes: Option<Bytes> = None;
                let mut logprob = None;
                while let Some(k) = map.next_key::<Key>()? {
                    match k {
                        Key::Id => id = map.next_value()?,
                        Key::Token => token = map.next_value()?,
                        Key::Bytes
                            if token
                                .as_ref()
                                .is_some_and(|t| !entries::text_unreliable(&t.0)) =>
                        {
                            map.next_value::<IgnoredAny>()?;
                        }
                        Key::Bytes => bytes = map.next_value()?,
                        Key::Logprob => logprob = Some(map.next_value::<Lp>()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let logprob = logprob
                    .ok_or_else(|| de::Error::missing_field("logprob"))?
                    .0
                    .ok_or_else(|| de::Error::custom("a logprob that is not a number"))?;
                let token = token.as_ref().map(|t| &*t.0);
                let (id, b) = entries::id_and_bytes(id, token, bytes.as_ref().map(Bytes::as_slice));
                Ok(Cand(Candidate {
                    id,
                    text: entries::candidate_text(token, b),
                    logprob,
                }))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Visitor<'de> for Entry<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a token entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut id = None;
        let mut token: Option<Str> = None;
        let mut bytes: Option<Bytes> = None;
        let mut logprob = None;
        self.scratch.clear();
        while let Some(k) = map.next_key::<Key>()? {
            match k {
                Key::Id => id = map.next_value()?,
                Key::Token => token = map.next_value()?,
                Key::Bytes => bytes = map.next_value()?,
                Key::Logprob => logprob = map.next_value::<Lp>()?.0,
                Key::TopLogprobs => {
                    self.scratch.clear();
                    map.next_value_seed(Top(&mut *self.scratch))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let logprob = logprob.ok_or_else(|| de::Error::missing_field("logprob"))?;
        if self.scratch.is_empty() {
            // No alternatives: the run is text only (the general path).
            return Err(de::Error::missing_field("top_logprobs"));
        }
        let (id, bytes) = entries::id_and_bytes(
            id,
            token.as_ref().map(|t| &*t.0),
            bytes.as_ref().map(Bytes::as_slice),
        );
        self.builder
            .push(id, bytes, logprob, self.scratch)
            .map_err(de::Error::custom)
    }
}

/// `top_logprobs`, appended to the scratch list.
struct Top<'s>(&'s mut Vec<Candidate>);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of candidates")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(Cand(c)) = seq.next_element()? {
            self.0.push(c);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::trace::{to_run, Options};
    use super::*;

    /// A real llama-server response (n = 4, top 20) made by
    /// scripts/make-import-fixtures.sh.
    fn fixture() -> Vec<u8> {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/import/llama-server-chat.json"
        );
        let mut b = std::fs::read(p).unwrap();
        while b.last().is_some_and(u8::is_ascii_whitespace) {
            b.pop();
        }
        b
    }

    fn run_of(traces: Vec<Trace>) -> crate::run::Run {
        let opts = Options {
            file_name: "x.json".into(),
            prompt: None,
            vocab: Some(49152),
            tokenizer: None,
            created: "2026-11-30T00:00:00Z".into(),
        };
        to_run(
            traces.into_iter().next().unwrap(),
            "openai-chat",
            None,
            &opts,
        )
        .unwrap()
    }

    /// The general path: a `Value` tree, then per-token entries.
    fn slow(line: &[u8]) -> crate::run::Run {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        run_of(super::super::openai_chat::convert(&v).unwrap())
    }

    #[test]
    fn every_split_gives_the_general_paths_run() {
        let line = fixture();
        let want = slow(&line);
        assert_eq!(want.paths.len(), 4);
        for parts in 1..=4 {
            // Shares past the last choice's start find none.
            let starts = guess_starts(&line, parts);
            assert!(starts.len() < parts && (parts == 1 || !starts.is_empty()));
            assert!(starts.windows(2).all(|w| w[0] < w[1]));
            let got = run_of(convert_in(&line, Some(49152), parts).unwrap());
            assert_eq!(got, want, "{parts} parts");
        }
    }

    #[test]
    fn a_wrong_guess_falls_back_to_one_piece() {
        // A choice start look-alike nested deeper, where the second part's
        // guess lands: the first part never meets it, so one piece it is.
        let line = String::from_utf8(fixture()).unwrap();
        let second = line.find(r#"},{"finish_reason""#).unwrap();
        let fake = r#","meta":[{"x":1},{"index":9,"message":{}}]"#;
        let mut odd = line.clone();
        odd.insert_str(second, fake);
        let planted = odd.find(r#"{"index":9"#).unwrap();
        let odd = odd.into_bytes();
        let parts = walk_parts(&odd, &[planted], Some(49152));
        assert!(parts.is_none(), "a nested object is not a choice boundary");
        let got = run_of(convert_in(&odd, Some(49152), 2).unwrap());
        assert_eq!(got, slow(&odd));
    }

    #[test]
    fn a_broken_second_half_is_refused() {
        let line = fixture();
        let starts = guess_starts(&line, 2);
        // Garbage between two choices after the split, and a cut line.
        let mut bad = line.clone();
        bad.insert(starts[0] - 1, b'x');
        assert!(convert_in(&bad, None, 2).is_none());
        assert!(convert_in(&bad, None, 1).is_none());
        let cut = &line[..line.len() - 3];
        assert!(convert_in(cut, None, 2).is_none());
        // A second `choices` key is left to the general path.
        let mut dup = line[..line.len() - 1].to_vec();
        dup.extend_from_slice(br#","choices":[]}"#);
        assert!(convert_in(&dup, None, 2).is_none());
        assert!(convert_in(&dup, None, 1).is_none());
    }

    #[test]
    fn field_names_read_as_bytes_keep_their_meaning() {
        // An escaped name is the same name; a name that is not UTF-8 is
        // refused, as serde_json refuses it as a `str`.
        let line = String::from_utf8(fixture()).unwrap();
        let escaped = line.replace(r#""logprob":"#, r#""log\u0070rob":"#);
        assert_ne!(escaped, line);
        let want = slow(line.as_bytes());
        let got = run_of(convert_in(escaped.as_bytes(), Some(49152), 1).unwrap());
        assert_eq!(got, want);
        let mut bad = line.clone().into_bytes();
        let at = line.find(r#""token":"#).unwrap();
        bad.splice(at + 1..at + 1, [b'z', 0xff]);
        assert!(convert_in(&bad, None, 1).is_none());
    }

    #[test]
    fn split_parsing_agrees_with_one_piece_on_mutated_lines() {
        // Differential: whatever a mutation does, parts agree with one piece.
        let line = fixture();
        let mut rng = fastrand::Rng::with_seed(18);
        let structural = b"{}[],:\" \\";
        let mut accepted = 0;
        for _ in 0..300 {
            let mut m = line.clone();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..m.len());
                match rng.u8(..3) {
                    0 => m[i] = structural[rng.usize(..structural.len())],
                    1 => m.insert(i, structural[rng.usize(..structural.len())]),
                    _ => m.truncate(i.max(1)),
                }
            }
            let one = convert_in(&m, None, 1);
            accepted += usize::from(one.is_some());
            for parts in 2..=3 {
                assert_eq!(convert_in(&m, None, parts), one, "{parts} parts");
            }
        }
        // Some mutations land in text and keep the line valid.
        assert!(accepted > 0);
    }
}

//! What a run file may become in memory while it is parsed.
//!
//! The inflate limit bounds a file's JSON, but not what the JSON turns
//! into: `"",` is 3 bytes of JSON and a 24-byte token text, `0,` 2 bytes and
//! a 4-byte id, and a turn of under 100 bytes of JSON is several hundred
//! bytes of empty columns. A gzip of
//! empty strings (it compresses a thousandfold) would take about eight times
//! the limit. Every list in a run is therefore charged, element by element
//! as it is parsed, against a budget the size of the same limit, and the
//! parse stops at the first element past it, with a message naming the
//! limit. Text inside strings is not charged: it is never longer than the
//! file. The bundled sample runs hold 0.7–1.2 times their JSON in lists; a
//! text-only run of one-character tokens about four times, so the budget
//! refuses no real run below a gigabyte of JSON at the default limit.

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};
use std::cell::Cell;
use std::marker::PhantomData;

std::thread_local! {
    /// (bytes of list elements the parse on this thread may still hold,
    /// the budget it was given); `None` outside `within` (nothing charged).
    static LEFT: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// `f` with at most `bytes` of list elements for what it parses on this
/// thread (restored after it, also on a panic).
pub(crate) fn within<R>(bytes: u64, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<(u64, u64)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LEFT.set(self.0);
        }
    }
    let _restore = Restore(LEFT.replace(Some((bytes, bytes))));
    f()
}

/// Charge `n` elements of `T` (at least one byte each).
pub(crate) fn charge<T, E: Error>(n: usize) -> Result<(), E> {
    let Some((left, budget)) = LEFT.get() else {
        return Ok(());
    };
    let cost = (n as u64).saturating_mul(std::mem::size_of::<T>().max(1) as u64);
    match left.checked_sub(cost) {
        Some(rest) => {
            LEFT.set(Some((rest, budget)));
            Ok(())
        }
        None => Err(E::custom(format!(
            "the run would take more than {} MiB in memory, the limit for a run (set REASONSCOPE_MAX_INFLATE_MB to raise it)",
            budget >> 20
        ))),
    }
}

/// `deserialize_with` for a list: a `Vec` charged element by element.
pub(crate) fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element::<T>()? {
                charge::<T, A::Error>(1)?;
                out.push(v);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V(PhantomData))
}

/// `deserialize_with` for an optional list (with `#[serde(default)]`).
pub(crate) fn opt_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    struct Some_<T>(Vec<T>);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Some_<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            vec(d).map(Some_)
        }
    }
    Ok(Option::<Some_<T>>::deserialize(d)?.map(|s| s.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Lists {
        #[serde(deserialize_with = "vec")]
        a: Vec<u64>,
        #[serde(default, deserialize_with = "opt_vec")]
        b: Option<Vec<u32>>,
    }

    fn parse(json: &str, budget: Option<u64>) -> Result<Lists, String> {
        let go = || serde_json::from_str::<Lists>(json).map_err(|e| e.to_string());
        match budget {
            Some(b) => within(b, go),
            None => go(),
        }
    }

    #[test]
    fn lists_are_charged_by_their_elements_size() {
        // 3 × 8 + 2 × 4 = 32 bytes.
        let json = r#"{"a": [1, 2, 3], "b": [4, 5]}"#;
        let l = parse(json, Some(32)).unwrap();
        assert_eq!((l.a, l.b), (vec![1, 2, 3], Some(vec![4, 5])));
        let e = parse(json, Some(31)).err().unwrap();
        assert!(
            e.contains("more than") && e.contains("REASONSCOPE_MAX_INFLATE_MB"),
            "{e}"
        );
        // Outside `within` nothing is charged, and the budget is restored.
        assert!(parse(json, None).is_ok());
        assert_eq!(LEFT.get(), None);
    }

    #[test]
    fn absent_and_null_optional_lists_read_as_none() {
        assert_eq!(parse(r#"{"a": []}"#, Some(0)).unwrap().b, None);
        assert_eq!(parse(r#"{"a": [], "b": null}"#, Some(0)).unwrap().b, None);
        let e = parse(r#"{"a": 1}"#, Some(0)).err().unwrap();
        assert!(e.contains("expected a sequence"), "{e}");
    }
}

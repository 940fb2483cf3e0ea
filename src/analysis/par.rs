//! Splitting independent work over the machine's cores, keeping order.

use std::sync::atomic::{AtomicUsize, Ordering};

std::thread_local! {
    /// Set on a background thread of the app: its parallel work leaves one
    /// core to the thread that draws the frames.
    static LEAVE_ONE_CORE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn cores_to_use() -> usize {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if LEAVE_ONE_CORE.get() {
        (n - 1).max(1)
    } else {
        n
    }
}

/// Run `f` (on this thread) with every parallel split inside it using one
/// core less than the machine has: for work in the background of the GUI,
/// which would otherwise take every core from the frames.
pub fn leaving_one_core<R>(f: impl FnOnce() -> R) -> R {
    let before = LEAVE_ONE_CORE.replace(true);
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            LEAVE_ONE_CORE.set(self.0);
        }
    }
    let _restore = Restore(before);
    f()
}

/// `f` on consecutive chunks of `items`, in threads (one per core); the
/// results come back in chunk order. The chunks are small (about eight per
/// core) and handed out on demand, so a core that is slowed down (by
/// costlier items, or by other programs on a shared machine) takes fewer
/// instead of everyone waiting for its half. One chunk (no thread) when
/// there is one core or one item.
pub fn par_chunks<T: Sync, U: Send>(items: &[T], f: impl Fn(&[T]) -> U + Sync) -> Vec<U> {
    let threads = cores_to_use().clamp(1, items.len().max(1));
    if threads == 1 {
        return vec![f(items)];
    }
    let chunks: Vec<&[T]> = items.chunks(items.len().div_ceil(threads * 8)).collect();
    let next = AtomicUsize::new(0);
    let (f, chunks, next) = (&f, &chunks, &next);
    let mut done: Vec<(usize, U)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(part) = chunks.get(i) else { break };
                        out.push((i, f(part)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker thread panicked"))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, u)| u).collect()
}

/// `f` on every item, over the cores, in order.
pub fn par_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    par_chunks(items, |part| part.iter().map(&f).collect::<Vec<U>>())
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_covers_every_item() {
        let v: Vec<u64> = (0..1001).collect();
        assert_eq!(
            par_map(&v, |x| x * 2),
            v.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
        let sums = par_chunks(&v, |p| p.iter().sum::<u64>());
        assert_eq!(sums.iter().sum::<u64>(), 1000 * 1001 / 2);
        // Leaving a core: the same results, with fewer threads.
        let threads = |v: &[u64]| {
            let ids = std::sync::Mutex::new(std::collections::HashSet::new());
            let out = par_map(v, |x| {
                ids.lock().unwrap().insert(std::thread::current().id());
                x * 2
            });
            (out, ids.into_inner().unwrap().len())
        };
        let (all, used_all) = threads(&v);
        let (fewer, used_fewer) = leaving_one_core(|| threads(&v));
        assert_eq!(all, fewer);
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(
            used_all <= n && used_fewer == (n - 1).max(1),
            "{used_all} {used_fewer}"
        );
        assert!(!LEAVE_ONE_CORE.get(), "the mode ends with the call");
        assert_eq!(par_map(&Vec::<u8>::new(), |x| *x), Vec::<u8>::new());
    }
}

//! Splitting independent work over the machine's cores, keeping order.

/// `f` on consecutive chunks of `items` (one chunk per core), in threads;
/// the results come back in chunk order. One chunk (no thread) when there is
/// one core or one item.
pub fn par_chunks<T: Sync, U: Send>(items: &[T], f: impl Fn(&[T]) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, items.len().max(1));
    if threads == 1 {
        return vec![f(items)];
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || f(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker thread panicked"))
            .collect()
    })
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
        assert_eq!(par_map(&Vec::<u8>::new(), |x| *x), Vec::<u8>::new());
    }
}

//! A counting allocator for the memory figures of the benchmarks: each
//! bench installs it with `#[global_allocator]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Counts only while `COUNTING` is set (the single-threaded memory
/// measurements): two atomic updates per allocation, contended between
/// threads, would slow down the multi-threaded timings below.
pub struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        let now = CURRENT.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            count(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        count(-(l.size() as isize));
    }
    // Without this, every Vec growth would be alloc + copy + free: the
    // instrument would slow down what it measures.
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new_size) };
        if !q.is_null() {
            count(new_size as isize - l.size() as isize);
        }
        q
    }
}

/// What `f` allocates at its peak, and what it still holds when it returns.
pub fn measure_memory<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let out = f();
    COUNTING.store(false, Ordering::Relaxed);
    let held = CURRENT.load(Ordering::Relaxed).max(0) as usize;
    (out, PEAK.load(Ordering::Relaxed).max(0) as usize, held)
}

/// Counts from now on, for as long as the process runs (the soak: heap
/// bytes held, told apart from resident pages the allocator keeps).
pub fn count_from_now() {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
}

/// Bytes allocated and not freed since `count_from_now`.
pub fn held_now() -> isize {
    CURRENT.load(Ordering::Relaxed)
}

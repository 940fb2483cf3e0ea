//! How many compute threads to give ggml.
//!
//! ggml's CPU worker threads spin while they wait for work, so more compute
//! threads than free cores collapses throughput, and the statistics pass runs
//! on the calling thread between decodes. Measured on the 2-core reference
//! machine (see README, "Benchmarks"): 2 compute threads beat 1, since the
//! statistics pass is short next to a decode and ggml's threads are idle
//! while it runs.

/// Thread count: `REASONSCOPE_THREADS` when set, else every available core
/// up to 8 (past that a 135M–1B model gains little and the UI loses a core),
/// leaving one core free on machines with more than 4.
pub fn default_threads() -> u32 {
    if let Some(n) = std::env::var("REASONSCOPE_THREADS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        return n.max(1);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let usable = if cores > 4 { cores - 1 } else { cores };
    usable.clamp(1, 8)
}

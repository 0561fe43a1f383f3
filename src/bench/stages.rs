//! Cheap per-stage timers for `partyline bench`: process-wide atomic counters of busy
//! time, one per pipeline stage.
//!
//! Always on: one `Instant::now()` pair per document or per batch costs nanoseconds
//! against milliseconds of work, and it spares threading a timing handle through every
//! stage. Stages on the reader thread overlap with inference, so busy times add up to
//! more than the wall time; `bench` reports each as a share of their sum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The pipeline's stages, in data order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and parsing inputs into documents.
    Ingest,
    Segment,
    Attribute,
    Tokenize,
    /// The encoder (ONNX Runtime) including batch assembly and pooling output.
    Inference,
    /// Features, the two heads and target refinement.
    Heads,
    Aggregate,
    /// Writing records and tables, checkpoints included.
    Export,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Ingest,
        Stage::Segment,
        Stage::Attribute,
        Stage::Tokenize,
        Stage::Inference,
        Stage::Heads,
        Stage::Aggregate,
        Stage::Export,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Segment => "segmentation",
            Stage::Attribute => "attribution",
            Stage::Tokenize => "tokenization",
            Stage::Inference => "inference",
            Stage::Heads => "heads",
            Stage::Aggregate => "aggregation",
            Stage::Export => "export",
        }
    }
}

static NANOS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

/// Adds busy time to a stage.
pub fn add(stage: Stage, d: Duration) {
    NANOS[stage as usize].fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}

/// Runs `f`, counting its time to `stage`.
pub fn time<T>(stage: Stage, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    add(stage, start.elapsed());
    out
}

/// Busy time per stage since the last [`reset`], in [`Stage::ALL`] order.
pub fn snapshot() -> [Duration; 8] {
    std::array::from_fn(|i| Duration::from_nanos(NANOS[i].load(Ordering::Relaxed)))
}

pub fn reset() {
    for n in &NANOS {
        n.store(0, Ordering::Relaxed);
    }
}

/// Peak resident memory of this process in bytes (VmHWM), where /proc has it.
pub fn peak_rss() -> Option<u64> {
    proc_status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// Resident memory now in bytes (VmRSS).
pub fn current_rss() -> Option<u64> {
    proc_status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// Resets the peak to the current resident size (Linux `clear_refs` 5), so each run of a
/// benchmark gets its own peak; false where the kernel does not allow it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn proc_status_kb(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

//! Crash points for tests: `CAIRN_FAILPOINT=NAME` (or `NAME:N` for the N-th
//! time the point is reached) makes the process SIGKILL itself there, exactly
//! as an operator's `kill -9` or an OOM kill would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

fn spec() -> &'static Option<(String, u64)> {
    static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let v = std::env::var("CAIRN_FAILPOINT").ok()?;
        let (name, n) = match v.split_once(':') {
            Some((a, b)) => (a.to_string(), b.parse().unwrap_or(1)),
            None => (v, 1),
        };
        Some((name, n))
    })
}

/// True if the named point is the one selected.
pub fn armed(name: &str) -> bool {
    matches!(spec(), Some((n, _)) if n == name)
}

/// Kill the process with SIGKILL if the named point is selected and reached
/// for the selected time.
pub fn hit(name: &str) {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    if let Some((n, at)) = spec() {
        if n == name && COUNT.fetch_add(1, Ordering::SeqCst) + 1 == *at {
            // SAFETY: plain syscalls with no memory arguments.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

/// Pause points for tests that orchestrate two processes:
/// `CAIRN_PAUSE=NAME:PATH` makes the process create `PATH.waiting` when it
/// reaches the point, then wait (up to 60 s) until `PATH` exists;
/// `NAME@N:PATH` pauses at the N-th time the point is reached.
pub fn pause(name: &str) {
    static HITS: AtomicU64 = AtomicU64::new(0);
    let Ok(v) = std::env::var("CAIRN_PAUSE") else { return };
    let Some((n, path)) = v.split_once(':') else { return };
    let (n, at) = match n.split_once('@') {
        Some((n, at)) => (n, at.parse().unwrap_or(1)),
        None => (n, 1),
    };
    // Only one point is selected at a time, so one counter serves.
    if n != name || HITS.fetch_add(1, Ordering::SeqCst) + 1 != at {
        return;
    }
    let _ = std::fs::write(format!("{path}.waiting"), b"");
    let start = std::time::Instant::now();
    while !std::path::Path::new(path).exists() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

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

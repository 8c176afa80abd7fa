//! Peer tools the tests compare against (restic from Debian). A missing
//! one fails the test with one line naming the setup command.

use std::path::Path;
use std::process::Command;

/// `restic` with a throwaway password, checked once to be installed.
pub fn restic(repo: &Path) -> Command {
    let found = Command::new("restic").arg("version").output().is_ok_and(|o| o.status.success());
    assert!(found, "restic is not installed for the tests: run ./scripts/test, which installs it and runs the suite");
    let mut c = Command::new("restic");
    c.arg("-r")
        .arg(repo)
        .arg("-q")
        .env("RESTIC_PASSWORD", "test")
        .env("RESTIC_CACHE_DIR", repo.with_extension("cache"));
    c
}

/// Bytes of all files below `p`.
pub fn dir_size(p: &Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

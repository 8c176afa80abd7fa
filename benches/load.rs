//! The load scenario of `tests/load.rs`, run longer: several backup
//! processes on changing trees, a `forget --keep-last 3 --prune` loop with
//! a short grace and a restore loop, all in one repository with small
//! packs; then every snapshot restored and `check --read-data`.
//!
//! `cargo bench --bench load` (BENCH_LOAD_SECS, default 300;
//! BENCH_LOAD_BACKUPS, default 3; BENCH_LOAD_GRACE seconds, default 4).
//! Prints the counts; fails if any command failed other than a backup's
//! documented "run the backup again" refusal.

#[path = "../tests/common/mod.rs"]
mod common;

use common::load::{run_load, LoadOptions};

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let o = LoadOptions {
        backups: env("BENCH_LOAD_BACKUPS", 3.0) as usize,
        seconds: env("BENCH_LOAD_SECS", 300.0) as u64,
        grace_secs: env("BENCH_LOAD_GRACE", 4.0),
        keep_last: 3,
    };
    let dir = std::env::var("BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    let tmp = tempfile::tempdir_in(dir).unwrap();
    eprintln!(
        "load: {} backup loops, forget --keep-last {} --prune --grace {}s, {} s",
        o.backups, o.keep_last, o.grace_secs, o.seconds
    );
    let r = run_load(tmp.path(), &o);
    println!("{r:#?}");
    println!(
        "| {} s | {} backups ({} refused) | {} forget+prune | {} live restores | {} packs deleted | longest backup {:.2} s, prune {:.2} s | {} snapshots at the end, {} restored byte-exact | {} failures |",
        o.seconds, r.backups_ok, r.backups_refused, r.prunes_ok, r.restores_ok, r.packs_deleted, r.longest_backup,
        r.longest_prune, r.snapshots_at_end, r.snapshots_restored, r.failures.len()
    );
    assert!(r.failures.is_empty(), "{} failures; first: {}", r.failures.len(), r.failures[0]);
    assert!(r.longest_backup < o.grace_secs, "a backup ran longer than the grace: the run says nothing");
}

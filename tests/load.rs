//! Load: three backup processes on changing trees beside a forget + prune
//! loop with a short grace, for about 40 seconds (`CAIRN_LOAD_SECS` to
//! change it; `cargo bench --bench load` runs longer). No committed
//! snapshot may be lost, and no command may fail except a backup's
//! documented "run the backup again" refusal.

mod common;
use common::load::{run_load, LoadOptions};

#[test]
fn backups_beside_a_prune_loop_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let seconds = std::env::var("CAIRN_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let o = LoadOptions { backups: 3, seconds, grace_secs: 4.0, keep_last: 3 };
    let r = run_load(tmp.path(), &o);
    eprintln!("{r:#?}");
    assert!(r.failures.is_empty(), "{} failure(s); first: {}", r.failures.len(), r.failures[0]);
    assert!(
        r.longest_backup < o.grace_secs,
        "the longest backup took {:.1}s, not shorter than the grace: the scenario is invalid",
        r.longest_backup
    );
    // The scenario must have exercised what it claims to.
    assert!(r.backups_ok >= 3 * 5, "{r:?}");
    assert!(r.prunes_ok >= 5 && r.packs_deleted > 0, "prune never deleted anything: {r:?}");
    assert!(r.restores_ok >= 5, "{r:?}");
    assert_eq!(r.snapshots_restored, r.snapshots_at_end);
    assert!(r.snapshots_at_end >= 3);
}

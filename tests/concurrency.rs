//! Two backup processes writing into one repository at once both commit
//! snapshots that restore byte-exact.

mod common;
use common::*;
use std::process::Stdio;

#[test]
fn two_concurrent_backups_both_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let (a, b) = (tmp.path().join("alpha"), tmp.path().join("beta"));
    cairn::sample::generate(&a, 24, 11).unwrap();
    // beta shares most of its data with alpha, so both processes race to
    // store the same chunks.
    copy_tree(&a, &b);
    cairn::sample::modify(&b, 12).unwrap();
    init_small(&repo);
    for round in 0..3 {
        let spawn = |p: &std::path::Path| {
            cairn(&repo)
                .args(["backup", "--json", "--force"])
                .arg(p)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (ca, cb) = (spawn(&a), spawn(&b));
        let (oa, ob) = (ca.wait_with_output().unwrap(), cb.wait_with_output().unwrap());
        assert!(
            oa.status.success() && ob.status.success(),
            "round {round}: {}{}",
            String::from_utf8_lossy(&oa.stderr),
            String::from_utf8_lossy(&ob.stderr)
        );
        let id = |o: &std::process::Output| {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            v["snapshot_id"].as_str().unwrap().to_string()
        };
        restore_and_compare(&repo, &id(&oa), &a, tmp.path());
        restore_and_compare(&repo, &id(&ob), &b, tmp.path());
    }
    ok(cairn(&repo).args(["check", "--read-data"]));
    let snaps: serde_json::Value = serde_json::from_str(&ok(cairn(&repo).args(["snapshots", "--json"]))).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 6);
}

//! Two backup processes writing into one repository at once both commit
//! snapshots that restore byte-exact. Four `init`s racing on one empty
//! directory make exactly one repository (format-spec/backends.md, G6).

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

#[test]
fn racing_inits_make_exactly_one_repository() {
    for round in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let racers: Vec<_> = (0..4)
            .map(|i| {
                cairn(&repo)
                    .arg("init")
                    .args(FAST_KDF)
                    .env("CAIRN_PASSWORD", format!("password {i}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<_> = racers.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let won: Vec<usize> = (0..4).filter(|&i| outs[i].status.success()).collect();
        assert_eq!(won.len(), 1, "round {round}: {} inits succeeded", won.len());
        for (_, o) in outs.iter().enumerate().filter(|(i, _)| *i != won[0]) {
            one_line(&String::from_utf8_lossy(&o.stderr));
        }
        // The winner's password opens it, and it has exactly its one key.
        let keys = std::fs::read_dir(repo.join("keys")).unwrap().count();
        assert_eq!(keys, 1, "round {round}: a loser left its key file");
        ok(cairn(&repo).env("CAIRN_PASSWORD", format!("password {}", won[0])).arg("snapshots"));
    }
}

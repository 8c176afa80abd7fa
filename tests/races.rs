//! Concurrent cases of format-spec/prune.md, one test per row that needs a
//! precise interleaving: one process is held at a pause point
//! (`CAIRN_PAUSE=NAME:PATH`) while another runs, then released. After each,
//! every snapshot involved restores byte-exact and `check --read-data` is clean.

mod common;
use common::*;
use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};

/// Start `cmd` held at pause point `point`; returns once it waits there.
fn paused(cmd: &mut std::process::Command, point: &str, dir: &Path) -> (Child, std::path::PathBuf) {
    let go = dir.join(format!("go-{point}-{}", rand_suffix()));
    let child = cmd
        .env("CAIRN_PAUSE", format!("{point}:{}", go.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&go.with_file_name(format!("{}.waiting", go.file_name().unwrap().to_string_lossy())));
    (child, go)
}

/// Release a paused process and require success; returns stdout.
fn release(child: Child, go: &Path) -> String {
    fs::write(go, b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "released process failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim().lines().last().unwrap()).unwrap()
}

/// Run `prune ARGS --json`; its JSON.
fn prune(repo: &Path, args: &[&str]) -> serde_json::Value {
    json(&ok(cairn(repo).arg("prune").args(args).arg("--json")))
}

fn clean(repo: &Path) {
    ok(cairn(repo).args(["check", "--read-data"]));
}

/// A backup commits its index file while prune holds the index it read
/// (the load test's lost snapshot): prune retires only the files it read.
/// The grace is short but real: packs are marked by one prune and deleted
/// by the next, and the backup in between treats them as absent.
#[test]
fn backup_commits_while_prune_holds_its_index() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, _) = with_garbage(tmp.path());
    ok(cairn(&repo).args(["prune", "--grace", "1s"]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (prune, go) = paused(cairn(&repo).args(["prune", "--grace", "1s", "--json"]), "prune-index-loaded", tmp.path());
    state(&data, 7);
    let id = backup(&repo, &[&data]);
    let v = json(&release(prune, &go));
    assert!(v["result"]["index_files_removed"].as_u64().unwrap() > 0, "prune retired nothing: {v}");
    assert!(v["result"]["packs_deleted"].as_u64().unwrap() > 0, "{v}");
    restores_as(&repo, &id, 7, tmp.path());
    clean(&repo);
}

/// A backup lists the index, then prune retires every file it listed:
/// the backup reads their replacements instead of failing.
#[test]
fn backup_reads_the_index_while_prune_retires_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, _) = with_garbage(tmp.path());
    state(&data, 8);
    let (b, go) = paused(cairn(&repo).args(["backup", "--json"]).arg(&data), "index-listed", tmp.path());
    let v = prune(&repo, &["--grace", "0s"]);
    assert!(v["result"]["index_files_removed"].as_u64().unwrap() > 0, "{v}");
    let id = json(&release(b, &go))["snapshot_id"].as_str().unwrap().to_string();
    restores_as(&repo, &id, 8, tmp.path());
    clean(&repo);
}

/// Snapshots listed by a restore and by a backup are forgotten before they
/// read them: the restore picks from what is left, the backup finds no
/// parent and reads every file.
#[test]
fn snapshots_forgotten_between_listing_and_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, a, b) = (tmp.path().join("repo"), tmp.path().join("data"), tmp.path().join("other"));
    init_small(&repo);
    state(&a, 1);
    backup(&repo, &[&a]);
    state(&a, 2);
    backup(&repo, &[&a]);
    state(&b, 3);
    let newest = backup(&repo, &[&b]);
    let target = tmp.path().join("t");
    let (r, go_r) = paused(
        cairn(&repo).args(["restore", "latest", "--json", "--target"]).arg(&target),
        "snapshots-listed",
        tmp.path(),
    );
    state(&a, 4);
    let (bk, go_b) = paused(cairn(&repo).args(["backup", "--json"]).arg(&a), "snapshots-listed", tmp.path());
    ok(cairn(&repo).args(["forget", "--group-by", "", "--keep-last", "1"]));
    assert_eq!(snapshots(&repo).len(), 1);
    assert_eq!(json(&release(r, &go_r))["snapshot_id"], newest.as_str());
    let v = json(&release(bk, &go_b));
    assert_eq!(v["files_unmodified"], 0, "no parent is left: {v}");
    restores_as(&repo, v["snapshot_id"].as_str().unwrap(), 4, tmp.path());
    clean(&repo);
}

/// A restore that loaded the index before prune repacked the packs it
/// needs (and deleted the originals at once) reads the new copies.
#[test]
fn restore_while_prune_repacks_its_packs() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, _) = with_garbage(tmp.path());
    state(&data, 101); // shares the day files with hour 100: its packs become sparse
    let keep = backup(&repo, &[&data]);
    ok(cairn(&repo).args(["forget", "--keep-last", "1"]));
    let target = tmp.path().join("t");
    let (r, go) = paused(cairn(&repo).args(["restore", &keep, "--target"]).arg(&target), "index-loaded", tmp.path());
    let v = prune(&repo, &["--grace", "0s", "--max-unused", "0"]);
    assert!(
        v["result"]["packs_written"].as_u64().unwrap() > 0 && v["result"]["packs_deleted"].as_u64().unwrap() > 0,
        "{v}"
    );
    release(r, &go);
    let expect = tmp.path().join("expect");
    state(&expect, 101);
    assert_eq!(digest(&target.join("data")), digest(&expect));
    clean(&repo);
}

/// A backup that commits after prune listed the snapshots: its packs are
/// indexed but unreferenced for that prune, so they are only marked; the
/// next prune sees the snapshot and keeps them.
#[test]
fn backup_committed_after_prune_listed_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, _) = with_garbage(tmp.path());
    let (p, go) = paused(cairn(&repo).args(["prune", "--grace", "1h", "--json"]), "snapshots-listed", tmp.path());
    state(&data, 9);
    let id = backup(&repo, &[&data]);
    let v = json(&release(p, &go));
    assert_eq!(v["result"]["packs_deleted"], 0, "{v}");
    let v = prune(&repo, &["--grace", "0s"]);
    assert!(v["plan"]["packs_rescued"].as_u64().unwrap() > 0, "the backup's packs were not marked and rescued: {v}");
    restores_as(&repo, &id, 9, tmp.path());
    clean(&repo);
}

/// Packs a running backup has stored but not yet indexed are marked, never
/// deleted at once; the backup commits and the next prune rescues them.
#[test]
fn backup_writing_packs_while_prune_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, _) = with_garbage(tmp.path());
    state(&data, 10);
    let (b, go) = paused(cairn(&repo).args(["backup", "--json"]).arg(&data), "backup-before-commit", tmp.path());
    let v = prune(&repo, &[]);
    assert!(v["plan"]["packs_unindexed"].as_u64().unwrap() > 0, "{v}");
    let id = json(&release(b, &go))["snapshot_id"].as_str().unwrap().to_string();
    let v = prune(&repo, &["--grace", "0s"]);
    assert!(v["plan"]["packs_rescued"].as_u64().unwrap() > 0, "{v}");
    restores_as(&repo, &id, 10, tmp.path());
    clean(&repo);
}

/// Two prunes at once: one holds the index it read while the other
/// deletes; both finish and nothing referenced is lost.
#[test]
fn two_prunes_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, h) = with_garbage(tmp.path());
    let (a, go) = paused(cairn(&repo).args(["prune", "--grace", "0s", "--json"]), "prune-index-loaded", tmp.path());
    let v = prune(&repo, &["--grace", "0s"]);
    assert!(v["result"]["packs_deleted"].as_u64().unwrap() > 0, "{v}");
    release(a, &go);
    restores_as(&repo, "latest", h, tmp.path());
    clean(&repo);
    // What the first prune's index still named is gone with the next prune.
    ok(cairn(&repo).args(["prune", "--grace", "0s"]));
    let out = ok(cairn(&repo).args(["check", "--read-data"]));
    assert!(!out.contains("missing"), "{out}");
}

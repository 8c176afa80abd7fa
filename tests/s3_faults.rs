//! Faults and many writers on a real S3 store (Garage on loopback): the
//! server killed and started again during a backup; a three-node cluster
//! (replication factor 3) losing a node during a backup; three backup
//! processes and a prune at once on one repository. After each, every
//! snapshot restores byte-exact and `check --read-data` is clean.

mod common;
use common::garage::Garage;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn on(g: &Garage, repo: &str) -> Command {
    let mut c = cairn(Path::new(repo));
    g.env(&mut c);
    c
}

/// A backup started in the background, its output collected at the end.
fn spawn_backup(g: &Garage, repo: &str, data: &Path, retry: &str) -> Child {
    on(g, repo)
        .args(["--retry-timeout", retry, "backup", "--json"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until node 0 has answered `n` more PUTs than `from`.
fn wait_for_puts(g: &Garage, from: u64, n: u64) {
    let start = Instant::now();
    while puts(g) < from + n {
        assert!(start.elapsed() < Duration::from_secs(60), "the backup stored nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn puts(g: &Garage) -> u64 {
    g.requests().get("PutObject").copied().unwrap_or(0)
}

/// The backup's outcome: a snapshot, or a clean failure (one line, no snapshot).
fn outcome(child: Child) -> Option<String> {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        return Some(v["snapshot_id"].as_str().unwrap().to_string());
    }
    few_lines(&err);
    eprintln!("the backup failed cleanly: {err}");
    None
}

/// Every snapshot in `expect` restores to its data; check --read-data is clean.
fn all_restore(g: &Garage, repo: &str, expect: &[(String, PathBuf)], scratch: &Path) {
    for (id, data) in expect {
        let out = scratch.join(format!("out-{}", rand_suffix()));
        ok(on(g, repo).args(["restore", id, "--target"]).arg(&out));
        let name = data.file_name().unwrap();
        assert_eq!(digest(&out.join(name)), digest(data), "snapshot {id} differs");
    }
    ok(on(g, repo).args(["check", "--read-data"]));
}

/// A copy of `from` under `to`, kept as it was when snapshotted.
fn keep(from: &Path, to: PathBuf) -> PathBuf {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    copy_tree(from, &to);
    to
}

/// Kill `node` after the backup stored 8 packs, for `down` (node 0: then
/// started again). `retry` long enough: the backup rides it out; too short:
/// it fails cleanly (`survives` says which must happen).
fn fault_during_backup(mut g: Garage, node: usize, down: Duration, retry: &str, survives: bool) {
    let repo = g.repo("faults");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ok(on(&g, &repo).arg("init").args(SMALL_CHUNKS).args(FAST_KDF));
    cairn::sample::generate(&data, 4, 1).unwrap();
    let first = backup_id(&g, &repo, &data);
    let mut expect = vec![(first, keep(&data, tmp.path().join("kept-0").join("data")))];

    cairn::sample::generate(&data.join("more"), 48, 2).unwrap();
    let from = puts(&g);
    let mut child = spawn_backup(&g, &repo, &data, retry);
    wait_for_puts(&g, from, 8);
    g.kill_node(node);
    assert!(child.try_wait().unwrap().is_none(), "the backup ended before the fault");
    std::thread::sleep(down);
    if node == 0 {
        g.start_node(0);
    }
    let kept = keep(&data, tmp.path().join("kept-1").join("data"));
    match outcome(child) {
        Some(id) => expect.push((id, kept.clone())),
        None => assert!(!survives, "the backup should have ridden out {down:?} down"),
    }
    if !survives {
        assert_eq!(snapshots_on(&g, &repo).len(), 1, "a failed backup left a snapshot");
    }
    // The next backup succeeds (stores only what is missing), all restore.
    let next = backup_id(&g, &repo, &data);
    expect.push((next, kept));
    all_restore(&g, &repo, &expect, tmp.path());
}

fn backup_id(g: &Garage, repo: &str, data: &Path) -> String {
    let out = ok(on(g, repo).args(["--retry-timeout", "60s", "backup", "--json"]).arg(data));
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["snapshot_id"].as_str().unwrap().to_string()
}

#[test]
fn the_server_killed_and_restarted_during_a_backup() {
    fault_during_backup(Garage::start(), 0, Duration::from_millis(1500), "60s", true);
}

#[test]
fn the_server_down_longer_than_the_retries_fails_the_backup_cleanly() {
    fault_during_backup(Garage::start(), 0, Duration::from_secs(6), "2s", false);
}

#[test]
fn a_three_node_cluster_loses_a_node_during_a_backup() {
    // Node 2 stays down: replication factor 3 writes and reads on a quorum of 2.
    fault_during_backup(Garage::cluster(3), 2, Duration::ZERO, "60s", true);
}

#[test]
fn three_backups_and_a_prune_at_once() {
    let g = Garage::start();
    let repo = g.repo("many");
    let tmp = tempfile::tempdir().unwrap();
    ok(on(&g, &repo).arg("init").args(SMALL_CHUNKS).args(FAST_KDF));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pruner = {
        let (stop, mut cmd) = (stop.clone(), on(&g, &repo));
        cmd.args(["--retry-timeout", "60s", "forget", "--keep-last", "2", "--prune", "--grace", "1s"]);
        std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let out = cmd.output().unwrap();
                assert!(out.status.success(), "prune failed: {}", String::from_utf8_lossy(&out.stderr));
                runs += 1;
                std::thread::sleep(Duration::from_millis(300));
            }
            runs
        })
    };
    // Each writer: its own host name and data, four snapshots of changing
    // state (forget keeps the last 2 of each, so prune has work).
    let results: Vec<Vec<(String, PathBuf)>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3u64)
            .map(|w| {
                let (g, repo, dir) = (&g, &repo, tmp.path().join(format!("w{w}")));
                s.spawn(move || {
                    let data = dir.join("data");
                    (0..4u64)
                        .map(|h| {
                            state(&data, h * 7 + w);
                            let kept = keep(&data, dir.join(format!("kept-{h}")).join("data"));
                            let mut c = on(g, repo);
                            c.args(["--retry-timeout", "60s", "backup", "--json", "--host", &format!("w{w}")]);
                            let out = ok(c.arg(&data));
                            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                            (v["snapshot_id"].as_str().unwrap().to_string(), kept)
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let prunes = pruner.join().unwrap();
    assert!(prunes >= 2, "prune ran {prunes} time(s) only");
    // Every snapshot forget kept restores; at least the last 2 of each host are kept.
    let listed: Vec<String> = snapshots_on(&g, &repo);
    let expect: Vec<(String, PathBuf)> = results.into_iter().flatten().filter(|(id, _)| listed.contains(id)).collect();
    assert!(expect.len() >= 6, "only {} snapshots left", expect.len());
    all_restore(&g, &repo, &expect, tmp.path());
    // A last prune with nothing running leaves it clean too.
    ok(on(&g, &repo).args(["prune", "--grace", "0s"]));
    all_restore(&g, &repo, &expect, tmp.path());
}

fn snapshots_on(g: &Garage, repo: &str) -> Vec<String> {
    let out = ok(on(g, repo).args(["snapshots", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

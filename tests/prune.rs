//! Retention and garbage collection end to end: 50 days of hourly snapshots
//! forgotten by the guide's policy and pruned, the two-phase delete, a
//! backup running while prune runs, prune killed at every phase, protection
//! and bad input.

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const START: &str = "2026-12-10T00:30:00Z";

fn hour_time(h: u64) -> jiff::Timestamp {
    START.parse::<jiff::Timestamp>().unwrap().checked_add(jiff::Span::new().hours(h as i64)).unwrap()
}

fn dir_bytes(p: &Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// 50 days of hourly snapshots, taken through the library (1200 backups).
fn fifty_days(tmp: &Path) -> (PathBuf, PathBuf, BTreeMap<String, u64>) {
    let (repo, data) = (tmp.join("repo"), tmp.join("data"));
    init_small(&repo);
    let mut hour_of = BTreeMap::new();
    let mut r = cairn::Repository::open_local(&repo, Some(&|| Ok(PASSWORD.to_string()))).unwrap();
    for h in 0..50 * 24 {
        state(&data, h);
        let opts = cairn::ops::backup::BackupOptions {
            sources: vec![cairn::source::SourceSpec::path(&data)],
            time: Some(hour_time(h)),
            ..Default::default()
        };
        let res = cairn::ops::backup::backup(&r, &opts).unwrap();
        hour_of.insert(res.id.to_hex(), h);
        r.load_index().unwrap();
    }
    (repo, data, hour_of)
}

#[test]
fn fifty_days_forget_and_prune_keep_the_policy_and_shrink_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, hour_of) = fifty_days(tmp.path());
    let before = dir_bytes(&repo.join("data"));
    // The expected keep set, from the pure function over the recorded times.
    let cands: Vec<cairn::retention::Candidate> = hour_of
        .iter()
        .map(|(id, h)| cairn::retention::Candidate {
            id: cairn::Id::parse(id).unwrap(),
            time: hour_time(*h),
            tags: vec![],
            protected: false,
        })
        .collect();
    let tz = jiff::tz::TimeZone::UTC;
    let want: BTreeSet<String> = cairn::retention::apply(&cands, &cairn::retention::Policy::guide(), &tz)
        .into_iter()
        .filter(|d| d.keep)
        .map(|d| d.id.to_hex())
        .collect();
    assert!(want.len() > 50 && want.len() < 80, "{}", want.len());

    let out = ok(cairn(&repo).args(["forget", "--prune", "--grace", "0s", "--json"]));
    let mut lines = out.lines();
    let plan: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let reasons: Vec<&serde_json::Value> =
        plan["groups"][0]["snapshots"].as_array().unwrap().iter().filter(|r| r["keep"] == true).collect();
    assert!(reasons.iter().all(|r| !r["reasons"].as_array().unwrap().is_empty()));
    let pruned: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let got: BTreeSet<String> = snapshots(&repo).iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, want, "kept set differs from the policy");

    // The bound: after prune, blob bytes in packs are at most what the kept
    // snapshots reference / (1 - max-unused), plus per-pack and per-blob
    // framing (header, trailer entry, envelope).
    let after = dir_bytes(&repo.join("data"));
    let referenced = pruned["plan"]["bytes_referenced"].as_u64().unwrap();
    let (packs, blobs) = (
        walkdir::WalkDir::new(repo.join("data"))
            .into_iter()
            .filter(|e| e.as_ref().unwrap().file_type().is_file())
            .count() as u64,
        pruned["plan"]["blobs_referenced"].as_u64().unwrap(),
    );
    let bound = (referenced as f64 / 0.9) as u64 + 128 * (packs + blobs);
    assert!(after <= bound, "repository holds {after} bytes, bound {bound} (referenced {referenced})");
    assert!(after < before, "prune freed nothing ({before} → {after})");
    eprintln!("50 days: {} snapshots kept of 1200; packs {before} → {after} bytes; referenced {referenced}", got.len());

    ok(cairn(&repo).args(["check", "--read-data"]));
    for id in &got {
        restores_as(&repo, id, hour_of[id], tmp.path());
    }
}

fn packs(repo: &Path) -> BTreeSet<PathBuf> {
    walkdir::WalkDir::new(repo.join("data"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.is_file())
        .collect()
}

#[test]
fn default_grace_marks_and_a_later_prune_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, _) = with_garbage(tmp.path());
    let before = packs(&repo);
    let out = ok(cairn(&repo).args(["prune", "--json"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["result"]["packs_marked"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["result"]["packs_deleted"], 0);
    let after = packs(&repo);
    assert!(before.is_subset(&after), "the default grace must not delete anything yet");
    assert_eq!(fs::read_dir(repo.join("marked")).unwrap().count(), 1);

    // A backup between the mark and the removal, of the forgotten data again.
    state(&data, 5);
    ok(cairn(&repo).args(["backup", "--time", "2026-01-03T00:00:00Z"]).arg(&data));
    let again = snapshots(&repo).last().unwrap()["id"].as_str().unwrap().to_string();
    let out = ok(cairn(&repo).args(["prune", "--grace", "0s", "--json"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["result"]["packs_deleted"].as_u64().unwrap() > 0, "{v}");
    ok(cairn(&repo).args(["check", "--read-data"]));
    restores_as(&repo, &again, 5, tmp.path());
    restores_as(&repo, "latest", 5, tmp.path());
}

/// A backup that loaded the index before prune marked its data reuses the
/// marked packs; the snapshot it commits keeps them alive through the next
/// prune. One still running when the packs are deleted refuses to commit.
#[test]
fn backup_running_while_prune_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, _) = with_garbage(tmp.path());
    state(&data, 5); // the forgotten snapshot's data
    let go = tmp.path().join("go");
    let child = cairn(&repo)
        .args(["backup", "--json", "--time", "2026-01-04T00:00:00Z"])
        .arg(&data)
        .env("CAIRN_PAUSE", format!("backup-start:{}", go.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&tmp.path().join("go.waiting"));
    // Prune while the backup holds its index: marks the forgotten data.
    let v: serde_json::Value = serde_json::from_str(ok(cairn(&repo).args(["prune", "--json"])).trim()).unwrap();
    assert!(v["result"]["packs_marked"].as_u64().unwrap() > 0);
    fs::write(&go, b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(b["blobs_new"].as_u64().unwrap() < 5, "the backup should have reused the marked data: {b}");
    // The prune that could delete the marked packs sees the new snapshot.
    let v: serde_json::Value =
        serde_json::from_str(ok(cairn(&repo).args(["prune", "--grace", "0s", "--json"])).trim()).unwrap();
    assert!(v["plan"]["packs_rescued"].as_u64().unwrap() > 0, "{v}");
    ok(cairn(&repo).args(["check", "--read-data"]));
    restores_as(&repo, b["snapshot_id"].as_str().unwrap(), 5, tmp.path());

    // Now a backup that outlives the grace: paused just before committing
    // while a prune with --grace 0s deletes what it reused.
    // The state-100 snapshot goes; its packs are unreferenced but unmarked.
    ok(cairn(&repo).args(["forget", "--keep-last", "1"]));
    let count = snapshots(&repo).len();
    state(&data, 100);
    let go2 = tmp.path().join("go2");
    let child = cairn(&repo)
        .args(["backup", "--time", "2026-01-05T00:00:00Z"])
        .arg(&data)
        .env("CAIRN_PAUSE", format!("backup-before-commit:{}", go2.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&tmp.path().join("go2.waiting"));
    let v: serde_json::Value =
        serde_json::from_str(ok(cairn(&repo).args(["prune", "--grace", "0s", "--json"])).trim()).unwrap();
    fs::write(&go2, b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(v["result"]["packs_deleted"].as_u64().unwrap() > 0, "{v}");
    assert!(!out.status.success(), "a backup reusing deleted packs committed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--grace"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(snapshots(&repo).len(), count, "nothing may be committed");
    ok(cairn(&repo).args(["check", "--read-data"]));
}

#[test]
fn prune_killed_at_every_phase_loses_nothing_and_the_next_prune_finishes() {
    for (point, grace) in [
        ("prune-after-repack", "0s"),
        ("prune-after-mark", "24h"),
        ("prune-after-mark", "0s"),
        ("prune-after-index", "0s"),
        ("prune-after-index-removal", "0s"),
        ("prune-delete-pack", "0s"),
        ("prune-delete-pack:2", "0s"),
        ("forget-delete", "0s"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, data, h) = with_garbage(tmp.path());
        // A third snapshot sharing part of the data, so some packs are sparse.
        state(&data, 101);
        ok(cairn(&repo).args(["backup", "--time", "2026-01-03T00:00:00Z"]).arg(&data));
        let kept_before = snapshots(&repo);
        let mut cmd = cairn(&repo);
        if point.starts_with("forget") {
            cmd.args(["forget", "--keep-last", "1", "--prune", "--grace", grace]);
        } else {
            ok(cairn(&repo).args(["forget", "--keep-last", "1"]));
            cmd.args(["prune", "--max-unused", "0", "--grace", grace]);
        }
        let out = run(cmd.env("CAIRN_FAILPOINT", point));
        assert!(!out.status.success(), "{point}: the failpoint was not reached");
        ok(cairn(&repo).arg("check"));
        let now = snapshots(&repo);
        let newest = now.last().unwrap()["id"].as_str().unwrap().to_string();
        assert_eq!(newest, kept_before.last().unwrap()["id"].as_str().unwrap(), "{point}");
        restores_as(&repo, &newest, 101, tmp.path());
        // The next prune finishes the job.
        ok(cairn(&repo).args(["forget", "--keep-last", "1", "--prune", "--grace", "0s"]));
        ok(cairn(&repo).args(["check", "--read-data"]));
        restores_as(&repo, &newest, 101, tmp.path());
        let _ = h;
        assert_eq!(fs::read_dir(repo.join("snapshots")).unwrap().count(), 1, "{point}");
    }
}

#[test]
fn protected_snapshots_survive_forget() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    state(&data, 1);
    for d in 1..=3 {
        ok(cairn(&repo).args(["backup", "--time", &format!("2026-01-0{d}T00:00:00Z")]).arg(&data));
    }
    let oldest = snapshots(&repo)[0]["id"].as_str().unwrap().to_string();
    ok(cairn(&repo).args(["protect", &oldest[..12]]));
    let out = ok(cairn(&repo).args(["forget", "--keep-last", "1", "--dry-run"]));
    assert!(out.contains(&format!("keep   {}", &oldest[..8])) && out.contains("protected"), "{out}");
    ok(cairn(&repo).args(["forget", "--keep-last", "1"]));
    assert_eq!(snapshots(&repo).len(), 2);
    ok(cairn(&repo).args(["unprotect", &oldest[..12]]));
    ok(cairn(&repo).args(["forget", "--keep-last", "1"]));
    assert_eq!(snapshots(&repo).len(), 1);
}

#[test]
fn bad_input_removes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = with_garbage(tmp.path());
    let before = digest(&repo);
    for args in [
        vec!["forget", "--keep-daily", "-3"],
        vec!["forget", "--keep-hourly", "99999999"],
        vec!["forget", "--keep-daily", "lots"],
        vec!["forget", "--keep-last", "1", "--group-by", "host,planet"],
        vec!["forget", "--keep-within", "a while"],
        vec!["forget", "--keep-last", "1", "--tz", "Mars/Olympus_Mons"],
        vec!["forget", "--keep-tag", "nothing-has-this"],
        vec!["prune", "--grace", "soon"],
        vec!["prune", "--grace", "-5h"],
        vec!["prune", "--max-unused", "150"],
    ] {
        let (code, err) = fails(cairn(&repo).args(&args));
        if code == 2 {
            few_lines(&err);
        } else {
            one_line(&err);
        }
        assert!(code == 1 || code == 2, "{args:?}: exit {code}");
        assert_eq!(digest(&repo), before, "{args:?} changed the repository");
    }
}

/// `forget --save-policy` stores the policy; a later `forget` without
/// --keep-* options applies it instead of the guide's default.
#[test]
fn saved_policy_is_used_by_forget_without_options() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    state(&data, 1);
    let day = |d: u32| format!("2026-02-{d:02}T12:00:00Z");
    for d in 1..=4 {
        ok(cairn(&repo).args(["backup", "--time", &day(d)]).arg(&data));
    }
    ok(cairn(&repo).args(["forget", "--keep-last", "3", "--save-policy", "--dry-run"]));
    assert!(!repo.join("policies").exists() || fs::read_dir(repo.join("policies")).unwrap().count() == 0);
    assert_eq!(snapshots(&repo).len(), 4, "a dry run removes nothing");
    ok(cairn(&repo).args(["forget", "--keep-last", "2", "--save-policy"]));
    assert_eq!(snapshots(&repo).len(), 2);
    for d in 5..=6 {
        ok(cairn(&repo).args(["backup", "--time", &day(d)]).arg(&data));
    }
    // The guide's policy would keep all four (distinct days); the saved one keeps two.
    ok(cairn(&repo).arg("forget"));
    let times: Vec<String> = snapshots(&repo).iter().map(|s| s["time"].as_str().unwrap().to_string()).collect();
    assert_eq!(times, [day(5), day(6)]);
    assert_eq!(fs::read_dir(repo.join("policies")).unwrap().count(), 1);
}

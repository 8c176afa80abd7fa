//! Snapshot filters (`--tag`, `--host`, `--path`, `--latest`) for
//! `snapshots` and `forget`, and `tag --add/--remove/--set`, on real
//! repositories: what each lists or changes, and bad input refused with
//! nothing changed.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// Five snapshots: host a of `one` (tags nightly; nightly; weekly), host b
/// of `two` (nightly,db), host a of `two` (none).
fn setup(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let repo = dir.join("repo");
    init_small(&repo);
    let (one, two) = (dir.join("one"), dir.join("two"));
    for d in [&one, &two] {
        fs::create_dir_all(d).unwrap();
        fs::write(d.join("f"), d.display().to_string()).unwrap();
    }
    let b = |host: &str, tags: &[&str], src: &Path, t: &str| {
        let mut c = cairn(&repo);
        c.args(["backup", "--host", host, "--time", t]);
        for tag in tags {
            c.args(["--tag", tag]);
        }
        ok(c.arg(src));
    };
    b("a", &["nightly"], &one, "2026-01-01T00:00:00Z");
    b("a", &["nightly"], &one, "2026-01-02T00:00:00Z");
    b("a", &["weekly"], &one, "2026-01-03T00:00:00Z");
    b("b", &["nightly", "db"], &two, "2026-01-04T00:00:00Z");
    b("a", &[], &two, "2026-01-05T00:00:00Z");
    (repo, one, two)
}

/// Times (as dates) of the snapshots `snapshots ARGS --json` lists.
fn dates(repo: &Path, args: &[&str]) -> Vec<String> {
    let out = ok(cairn(repo).arg("snapshots").args(args).arg("--json"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v.as_array().unwrap().iter().map(|s| s["time"].as_str().unwrap()[5..10].to_string()).collect()
}

#[test]
fn snapshots_filters_select_what_they_say() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, one, two) = setup(tmp.path());
    assert_eq!(dates(&repo, &[]).len(), 5);
    assert_eq!(dates(&repo, &["--tag", "nightly"]), ["01-01", "01-02", "01-04"]);
    assert_eq!(dates(&repo, &["--tag", "nightly,db"]), ["01-04"]);
    assert_eq!(dates(&repo, &["--tag", "weekly", "--tag", "db"]), ["01-03", "01-04"]);
    assert_eq!(dates(&repo, &["--host", "b"]), ["01-04"]);
    assert_eq!(dates(&repo, &["--path", one.to_str().unwrap()]), ["01-01", "01-02", "01-03"]);
    assert_eq!(dates(&repo, &["--source", two.to_str().unwrap(), "--host", "a"]), ["01-05"]);
    // The newest of each host and sources: (a, one), (b, two), (a, two).
    assert_eq!(dates(&repo, &["--latest", "1"]), ["01-03", "01-04", "01-05"]);
    assert_eq!(dates(&repo, &["--latest", "2", "--host", "a"]), ["01-02", "01-03", "01-05"]);
    // Nothing matches: an empty list, and in text a line saying so.
    assert!(dates(&repo, &["--tag", "nosuch"]).is_empty());
    let out = run(cairn(&repo).args(["snapshots", "--tag", "nosuch"]));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no snapshot matches --tag nosuch"), "{out:?}");
}

#[test]
fn forget_applies_its_policy_to_the_filtered_snapshots_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = setup(tmp.path());
    let before = digest(&repo);
    let (_, err) = fails(cairn(&repo).args(["forget", "--tag", "nosuch", "--keep-last", "1"]));
    one_line(&err);
    assert!(err.contains("--tag nosuch"), "{err}");
    assert_eq!(digest(&repo), before, "a refused forget changed the repository");

    ok(cairn(&repo).args(["forget", "--tag", "nightly", "--host", "a", "--keep-last", "1"]));
    assert_eq!(dates(&repo, &[]), ["01-02", "01-03", "01-04", "01-05"], "only a's oldest nightly goes");
}

#[test]
fn tag_adds_removes_and_sets_keeping_data_and_protection() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, one, _) = setup(tmp.path());
    let snaps = snapshots(&repo);
    let weekly = snaps[2]["id"].as_str().unwrap().to_string();
    ok(cairn(&repo).args(["protect", &weekly]));

    let out = ok(cairn(&repo).args(["tag", &weekly, "--add", "keep", "--remove", "weekly", "--json"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let new = v[0]["new"].as_str().unwrap().to_string();
    assert_ne!(new, weekly);
    assert_eq!(v[0]["tags"], serde_json::json!(["keep"]));
    let ids: Vec<String> = snapshots(&repo).iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.contains(&new) && !ids.contains(&weekly), "{ids:?}");
    // Still protected under its new id, and its data restores.
    let (_, err) = fails(cairn(&repo).args(["forget", &new]));
    assert!(err.contains("protected"), "{err}");
    restore_and_compare(&repo, &new, &one, tmp.path());

    // By filter: every nightly becomes daily.
    ok(cairn(&repo).args(["tag", "--tag", "nightly", "--set", "daily"]));
    assert!(dates(&repo, &["--tag", "nightly"]).is_empty());
    assert_eq!(dates(&repo, &["--tag", "daily"]), ["01-01", "01-02", "01-04"]);
    assert_eq!(snapshots(&repo).len(), 5);
    ok(cairn(&repo).args(["check", "--read-data"]));

    // Bad input: one line each, nothing changed.
    let before = digest(&repo);
    for args in [
        vec!["tag", "latest"],
        vec!["tag", "deadbeef", "--add", "x"],
        vec!["tag", "--add", "x"],
        vec!["tag", "latest", "--add", "a,b"],
        vec!["tag", "--tag", "nosuch", "--add", "x"],
    ] {
        let (code, err) = fails(cairn(&repo).args(&args));
        assert_eq!(code, 1, "{args:?}: {err}");
        one_line(&err);
    }
    assert_eq!(digest(&repo), before);
}

#[test]
fn find_lists_matches_per_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, one, _) = setup(tmp.path());
    fs::create_dir_all(one.join("scripts")).unwrap();
    fs::write(one.join("scripts/ep01.txt"), "INT. ROOM").unwrap();
    fs::write(one.join("scripts/ep02.txt"), "EXT. STREET").unwrap();
    ok(cairn(&repo).args(["backup", "--host", "a", "--tag", "later"]).arg(&one));
    let db = tmp.path().join("app.db");
    appdb::make_app_db(&db, 10);
    ok(cairn(&repo).args(["backup", "--host", "c"]).arg(format!("sqlite:{}", db.display())));

    let v: serde_json::Value = serde_json::from_str(ok(cairn(&repo).args(["find", "--json", "ep0*"])).trim()).unwrap();
    let found = v.as_array().unwrap();
    assert_eq!(found.len(), 1, "only the last backup of one has scripts: {v}");
    let paths: Vec<&str> =
        found[0]["matches"].as_array().unwrap().iter().map(|m| m["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/one/scripts/ep01.txt", "/one/scripts/ep02.txt"]);
    // A name at any depth, in every snapshot of one; a path from the root.
    let v: serde_json::Value = serde_json::from_str(ok(cairn(&repo).args(["find", "--json", "f"])).trim()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 6, "{v}");
    let v: serde_json::Value =
        serde_json::from_str(ok(cairn(&repo).args(["find", "--json", "--tag", "weekly", "one/*"])).trim()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["matches"][0]["path"], "/one/f");
    // A database is found by its name, with its kind.
    let v: serde_json::Value = serde_json::from_str(ok(cairn(&repo).args(["find", "--json", "*.db"])).trim()).unwrap();
    assert_eq!(v[0]["matches"][0]["kind"], "sqlite", "{v}");
    let text = ok(cairn(&repo).args(["find", "ep01.txt"]));
    assert!(text.contains("/one/scripts/ep01.txt") && text.starts_with("snapshot "), "{text}");

    // Nothing found, a bad glob, a filter matching nothing: one line, exit 1.
    for args in [vec!["find", "nosuch*"], vec!["find", "a["], vec!["find", "--host", "zz", "f"]] {
        let (code, err) = fails(cairn(&repo).args(&args));
        assert_eq!(code, 1, "{args:?}: {err}");
        one_line(&err);
    }
}

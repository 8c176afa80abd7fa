//! The command line: help texts, the documented JSON schemas, `cat`, `stats`
//! and the repository given through CAIRN_REPOSITORY.

mod common;
use common::*;
use serde_json::Value;
use std::fs;
use std::process::Command;

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn help_explains_every_command() {
    let out = ok(Command::new(env!("CARGO_BIN_EXE_cairn")).arg("--help"));
    for cmd in
        ["init", "backup", "snapshots", "ls", "restore", "cat", "stats", "check", "demo", "key", "integrity", "drill"]
    {
        assert!(out.contains(cmd), "--help does not mention {cmd}: {out}");
        let sub = ok(Command::new(env!("CARGO_BIN_EXE_cairn")).args([cmd, "--help"]));
        assert!(sub.lines().count() > 3, "{cmd} --help is too thin: {sub}");
    }
    let (code, err) = fails(Command::new(env!("CARGO_BIN_EXE_cairn")).arg("no-such-command"));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn json_schemas_and_cat_and_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 4, 21).unwrap();
    // The repository may come from the environment instead of --repo.
    let env_cmd = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
        c.args(args).env("CAIRN_REPOSITORY", &repo).env("CAIRN_PASSWORD", PASSWORD);
        c
    };
    ok(env_cmd(&["init"]).args(FAST_KDF));
    let b = json(&ok(cairn(&repo)
        .args(["backup", "--json", "--tag", "t1", "--host", "h1", "--time", "2026-03-04T05:06:07Z"])
        .arg(&src)));
    for key in [
        "snapshot_id",
        "time",
        "hostname",
        "tags",
        "sources",
        "files_new",
        "files_changed",
        "files_unmodified",
        "dirs",
        "symlinks",
        "bytes_logical",
        "bytes_read",
        "blobs_new",
        "bytes_new_raw",
        "bytes_new_stored",
        "packs_written",
        "seconds",
        "warnings",
    ] {
        assert!(b.get(key).is_some(), "backup --json lacks {key}: {b}");
    }
    assert_eq!(b["time"], "2026-03-04T05:06:07Z");
    assert_eq!(b["hostname"], "h1");
    assert_eq!(b["tags"][0], "t1");
    let logical = b["bytes_logical"].as_u64().unwrap();
    backup(&repo, &[&src]);

    let snaps = json(&ok(&mut env_cmd(&["snapshots", "--json"])));
    let s0 = &snaps[0];
    for key in ["id", "short_id", "time", "hostname", "username", "tags", "sources", "tree", "parent", "summary"] {
        assert!(s0.get(key).is_some(), "snapshots --json lacks {key}: {s0}");
    }
    assert_eq!(s0["summary"]["bytes"].as_u64().unwrap(), logical);
    assert_eq!(snaps[1]["parent"], Value::Null, "second backup has another host, so no parent");

    let cfg = json(&ok(cairn(&repo).args(["cat", "config"])));
    assert_eq!(cfg["version"], cairn::format::REPO_VERSION);
    assert_eq!(cfg["encryption"], "Xaes256Gcm");
    assert_eq!(cfg["chunker"]["avg"], 512 * 1024);
    let snap = json(&ok(cairn(&repo).args(["cat", "snapshot", s0["short_id"].as_str().unwrap()])));
    assert_eq!(snap["id"], s0["id"]);
    let tree = json(&ok(cairn(&repo).args(["cat", "tree", snap["tree"][0].as_str().unwrap()])));
    assert_eq!(tree["nodes"][0]["name"], "data");
    assert_eq!(tree["nodes"][0]["type"], "dir");
    let (_, err) = fails(cairn(&repo).args(["cat", "tree", "xyz"]));
    assert!(err.contains("not a 64-digit hex tree id"), "{err}");

    // One snapshot: logical = its file bytes; two identical snapshots dedup 2x.
    let one = json(&ok(cairn(&repo).args(["stats", "--json", "latest"])));
    assert_eq!(one["logical_bytes"].as_u64().unwrap(), logical);
    assert!(one["compression_ratio"].as_f64().unwrap() > 1.5, "{one}");
    // Nothing repeats in one snapshot: 1.00x, its trees not counted as content.
    let once = one["dedup_ratio"].as_f64().unwrap();
    assert!((0.999..1.05).contains(&once), "one snapshot's dedup ratio {once}: {one}");
    let all = json(&ok(cairn(&repo).args(["stats", "--json"])));
    assert_eq!(all["logical_bytes"].as_u64().unwrap(), 2 * logical);
    let dedup = all["dedup_ratio"].as_f64().unwrap();
    assert!((1.95..2.05).contains(&dedup), "dedup ratio {dedup}");
    let on_disk: u64 = digest(&repo.join("data")).values().map(|(s, _)| s).sum();
    assert_eq!(all["stored_bytes"].as_u64().unwrap(), on_disk);

    let check = json(&ok(cairn(&repo).args(["check", "--json", "--read-data"])));
    assert_eq!(check["errors"].as_array().unwrap().len(), 0);
    assert!(check["blobs_read"].as_u64().unwrap() > 0);

    let ls: Vec<Value> = ok(cairn(&repo).args(["ls", "--json", "latest", "data/app.db"])).lines().map(json).collect();
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0]["path"], "/data/app.db");
    assert_eq!(ls[0]["mode"].as_u64().unwrap() & 0o777, 0o640);
    let target = tmp.path().join("r");
    let r = json(&ok(cairn(&repo).args(["restore", "--json", "latest", "--target"]).arg(&target)));
    assert_eq!(r["stats"]["bytes"].as_u64().unwrap(), logical);
}

#[test]
fn demo_runs_end_to_end() {
    let out = ok(Command::new(env!("CARGO_BIN_EXE_cairn")).args(["demo", "--size-mib", "8"]));
    assert!(out.contains("verified:") && out.contains("byte-exact"), "{out}");
    assert!(out.contains("dedup"), "{out}");
    // redis-server is a test component (./scripts/test installs it): the
    // demo's Redis part runs, with a private server it stops again.
    let found = Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        found,
        "redis-server is not installed for the tests: run ./scripts/test, which installs it and runs the suite"
    );
    // The whole stack: every component, captured in order, restored in place.
    assert!(out.contains("cache (Redis: a private server on port"), "{out}");
    let order: Vec<usize> = ["    cache ", "    projects ", "    vectors ", "    scripts "]
        .iter()
        .map(|c| out.find(c).unwrap_or_else(|| panic!("no component line {c:?}: {out}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{out}");
    assert!(out.contains("restored the first stack snapshot in place: 4 components"), "{out}");
    assert!(out.contains("byte-exact") && out.contains("next for cache"), "{out}");
}

/// A relative --repo whose directory does not exist yet (this once recursed
/// forever creating parents).
#[test]
fn relative_repository_path() {
    let tmp = tempfile::tempdir().unwrap();
    let rel = std::path::Path::new("nested/repo");
    ok(cairn(rel).current_dir(tmp.path()).arg("init").args(FAST_KDF));
    ok(cairn(rel).current_dir(tmp.path()).arg("backup").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")));
    assert!(tmp.path().join("nested/repo/config").is_file());
}

/// Output into a pipe closed early (`cairn ls ID | head -1`) ends quietly:
/// no panic message, no exit 101; and clap's errors name what is missing
/// and keep its suggestion, in a few lines.
#[test]
fn closed_pipes_and_command_line_mistakes() {
    use std::io::{BufRead, BufReader, Read};
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    fs::create_dir_all(&src).unwrap();
    for i in 0..4000 {
        fs::write(src.join(format!("scene-{i:05}-with-a-long-name.fountain")), "x").unwrap();
    }
    init_small(&repo);
    backup(&repo, &[&src]);
    for args in [&["ls", "latest"][..], &["ls", "latest", "--json"][..]] {
        let mut child = cairn(&repo)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        // The reader is dropped here: the pipe is closed after one line.
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let status = child.wait().unwrap();
        assert!(!first.is_empty());
        assert!(!err.contains("panicked") && status.code() != Some(101), "{args:?}: {status:?} {err}");
    }
    let (code, err) = fails(Command::new(env!("CARGO_BIN_EXE_cairn")).arg("restore"));
    assert_eq!(code, 2);
    assert!(err.contains("--target <TARGET>") && err.lines().count() <= 4, "{err}");
    let (code, err) = fails(Command::new(env!("CARGO_BIN_EXE_cairn")).args(["backup", "--exlude", "x", "y"]));
    assert_eq!(code, 2);
    assert!(err.contains("'--exclude'"), "the suggestion is kept: {err}");
}

/// Times as people write them: `2h ago`, `3 days ago`, `yesterday`, a local
/// civil time; a bad one is named with its flag.
#[test]
fn friendly_times() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    init_small(&repo);
    ok(cairn(&repo).args(["backup", "--time", "3 days ago"]).arg(&src));
    ok(cairn(&repo).args(["backup", "--time", "2h ago"]).arg(&src));
    let snaps = snapshots(&repo);
    let t = |i: usize| snaps[i]["time"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let ago = |ts: jiff::Timestamp| (jiff::Timestamp::now().as_second() - ts.as_second()) as f64 / 3600.0;
    assert!((ago(t(0)) - 72.0).abs() < 0.1 && (ago(t(1)) - 2.0).abs() < 0.1, "{snaps:?}");
    let err = String::from_utf8_lossy(&run(cairn(&repo).args(["ls", "--at", "yesterday"])).stderr).into_owned();
    assert!(err.contains(&snaps[0]["short_id"].as_str().unwrap()[..8]), "--at yesterday chose: {err}");
    let err = String::from_utf8_lossy(&run(cairn(&repo).args(["ls", "--at", "2099-01-31 12:00"])).stderr).into_owned();
    assert!(err.contains(&snaps[1]["short_id"].as_str().unwrap()[..8]), "a civil time chose: {err}");
    let (code, err) = fails(cairn(&repo).args(["ls", "--at", "soonish"]));
    one_line(&err);
    assert_eq!(code, 1);
    assert!(err.contains("--at \"soonish\"") && err.contains("2h ago"), "{err}");
}

/// A live WAL database backed up as plain files gets a hint naming
/// `sqlite:PATH`; a database-only backup prints no line about files.
#[test]
fn hints_for_live_databases_and_no_empty_files_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    fs::create_dir_all(&src).unwrap();
    let db = src.join("app.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("PRAGMA journal_mode=wal; CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    init_small(&repo);
    let out = run(cairn(&repo).arg("backup").arg(&src));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success());
    assert!(err.contains(&format!("back it up as sqlite:{}", db.display())), "{err}");
    let out = run(cairn(&repo).arg("backup").arg(&db));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:"), "a database given alone");
    drop(c);
    // Closed, its -wal gone: recognised by its header, in a tree and alone;
    // a file that only has the name is not.
    assert!(!src.join("app.db-wal").exists());
    fs::write(src.join("notes.db"), "plain text").unwrap();
    let err = String::from_utf8_lossy(&run(cairn(&repo).arg("backup").arg(&src)).stderr).into_owned();
    assert!(err.contains(&format!("{} is a SQLite database", db.display())), "{err}");
    assert!(!err.contains("notes.db"), "{err}");
    let err = String::from_utf8_lossy(&run(cairn(&repo).arg("backup").arg(&db)).stderr).into_owned();
    assert!(err.contains("sqlite:"), "{err}");
    let text = ok(cairn(&repo).arg("backup").arg(format!("sqlite:{}", db.display())));
    assert!(!text.contains("files:"), "{text}");
    assert!(ok(cairn(&repo).arg("backup").arg(&src)).contains("files:"));
}

/// `forget ID...` removes exactly the snapshots named; a protected one or a
/// wrong id is refused with one line and nothing removed.
#[test]
fn forget_named_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    init_small(&repo);
    let ids: Vec<String> = (0..4).map(|_| backup(&repo, &[&src])).collect();
    ok(cairn(&repo).args(["protect", &ids[3]]));
    let (_, err) = fails(cairn(&repo).args(["forget", &ids[1], &ids[3]]));
    one_line(&err);
    assert!(err.contains("protected"), "{err}");
    let (_, err) = fails(cairn(&repo).args(["forget", "ffffffffff"]));
    one_line(&err);
    assert_eq!(snapshots(&repo).len(), 4, "a refused forget removed something");
    ok(cairn(&repo).args(["forget", &ids[1][..10], &ids[2]]));
    let left: Vec<String> = snapshots(&repo).iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(left, [ids[0].clone(), ids[3].clone()]);
    let (code, _) = fails(cairn(&repo).args(["forget", &ids[0], "--keep-last", "1"]));
    assert_eq!(code, 2, "ids and a policy together are refused");
}

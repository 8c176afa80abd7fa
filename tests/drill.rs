//! Recovery drills and the guide's two disaster scenarios on a real stack
//! in a temporary directory (SQLite, a Chroma-layout directory, a private
//! redis-server, files). A drill passes on a good repository and fails,
//! exit 4 with a report naming the miss, when an RTO is impossibly low,
//! when the newest snapshot is older than the RPO, and when a restored
//! component fails its checks — never touching the live data. Partial
//! loss (the last hour's rows deleted) and full loss (the database and the
//! Chroma directory deleted) are recovered in place and pass every check.

mod common;
use common::redis::Server;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

struct Live {
    tmp: tempfile::TempDir,
    repo: PathBuf,
    file: PathBuf,
    _redis: Server,
}

/// The stack: its `[assertions]` plus `extra` TOML; one stack snapshot taken.
fn live(extra: &str) -> Live {
    let tmp = tempfile::tempdir().unwrap();
    let (file, redis) = common::livestack::write(tmp.path(), "repository = \"repo\"\nname = \"app\"\n", extra);
    redis.cli(&["DEBUG", "POPULATE", "2000"]);
    let repo = tmp.path().join("repo");
    init_small(&repo);
    ok(cairn(&repo).arg("backup").arg("--stack").arg(&file));
    Live { tmp, repo, file, _redis: redis }
}

fn drill(l: &Live, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = run(cairn(&l.repo).arg("drill").arg("--stack").arg(&l.file).arg("--json").args(args));
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

#[test]
fn drills_pass_and_fail_on_rto_rpo_and_checks_without_touching_live_data() {
    let l = live("");
    let before = digest(l.tmp.path().join("chroma").as_path());
    let db_before = fs::read(l.tmp.path().join("projects.db")).unwrap();
    let (code, v) = drill(&l, &[]);
    assert_eq!(code, Some(0), "{v}");
    let names: Vec<&str> = v["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cache", "projects", "vectors", "scripts"]);
    assert!(
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true && !c["checks"].as_array().unwrap().is_empty()),
        "{v}"
    );
    assert!(v["total_s"].as_f64().unwrap() < v["rto_s"].as_f64().unwrap());
    let partial = drill(&l, &["--scenario", "partial"]).1.to_string();
    let integrity = ok(cairn(Path::new("unused")).arg("integrity").arg("--stack").arg(&l.file).arg("--json"));
    let (seen, missing) = undocumented_json_keys(&[v.to_string(), partial, integrity]);
    assert!(seen > 40 && missing.is_empty(), "README's JSON section lacks {missing:?}");

    // A named snapshot: the report says which was recovered.
    let id = snapshots(&l.repo)[0]["id"].as_str().unwrap().to_string();
    let (code, named) = drill(&l, &["--snapshot", &id[..10]]);
    assert_eq!((code, named["snapshot"].as_str()), (Some(0), Some(id.as_str())));

    // An impossible RTO.
    let (code, v) = drill(&l, &["--rto", "1ms"]);
    assert_eq!(code, Some(4), "{v}");
    assert!(v["misses"].to_string().contains("over its RTO"), "{v}");
    // The newest snapshot older than the RPO.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, v) = drill(&l, &["--rpo", "1s"]);
    assert_eq!(code, Some(4));
    assert!(v["misses"].to_string().contains("over its RPO"), "{v}");
    // Text output: one row per component, the verdict, exit 4.
    let out = run(cairn(&l.repo).arg("drill").arg("--stack").arg(&l.file).args(["--rto", "1ms"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4));
    assert!(text.contains("MISSED") && text.contains("objectives missed"), "{text}");

    // Every drill left its record, and nothing else: check still passes.
    let h: serde_json::Value = serde_json::from_str(&ok(cairn(&l.repo)
        .arg("drill")
        .arg("--stack")
        .arg(&l.file)
        .args(["--history", "--json"])))
    .unwrap();
    let verdicts: Vec<bool> = h.as_array().unwrap().iter().map(|r| r["ok"].as_bool().unwrap()).collect();
    assert_eq!(verdicts, [true, true, true, false, false, false], "{h}");
    let text = ok(cairn(&l.repo).arg("drill").arg("--stack").arg(&l.file).arg("--history"));
    assert!(text.contains("recovery last proven"), "{text}");
    ok(cairn(&l.repo).args(["check", "--read-data"]));

    // The live data was never touched.
    assert_eq!(digest(l.tmp.path().join("chroma").as_path()), before);
    assert_eq!(fs::read(l.tmp.path().join("projects.db")).unwrap(), db_before);
}

#[test]
fn a_restored_component_failing_its_checks_fails_the_drill() {
    // An assertion that no longer holds for the snapshot's data: every
    // restore verifies it, so the drill's restore of `projects` fails.
    let l = live("");
    let text = fs::read_to_string(&l.file).unwrap().replace(
        "expect = 0 }",
        "expect = 0 }\nmany_projects = { sql = \"SELECT count(*) > 1000 FROM projects\", expect = 1 }",
    );
    fs::write(&l.file, text).unwrap();
    let (code, v) = drill(&l, &["--scenario", "partial"]);
    assert_eq!(code, Some(4), "{v}");
    let c = &v["components"][0];
    assert_eq!((c["name"].as_str(), c["ok"].as_bool()), (Some("projects"), Some(false)), "{v}");
    assert!(c["misses"].to_string().contains("many_projects"), "{v}");
    assert_eq!(v["components"].as_array().unwrap().len(), 1, "partial restores only the databases");
}

#[test]
fn partial_loss_the_last_hours_rows_come_back() {
    let l = live("");
    let db = l.tmp.path().join("projects.db");
    let rows = appdb::query_i64(&db, "SELECT count(*) FROM episodes");
    // The partial drill says what would come back.
    let (code, v) = drill(&l, &["--scenario", "partial"]);
    assert_eq!(code, Some(0), "{v}");
    let eps = v["components"][0]["rows"].as_array().unwrap().iter().find(|r| r[0] == "episodes").unwrap().clone();
    assert_eq!((eps[1].as_i64(), eps[2].as_i64()), (Some(rows), Some(rows)));
    // Scenario 1: the rows of the "last hour" (the newest tenth) deleted.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("DELETE FROM episodes WHERE created_at >= ?1", [rows * 9 / 10]).unwrap();
    drop(c);
    assert!(appdb::query_i64(&db, "SELECT count(*) FROM episodes") < rows);
    ok(cairn(&l.repo).arg("restore").arg("--stack").arg(&l.file).args(["--only", "projects", "--in-place"]));
    assert!(appdb::query_i64(&db, "SELECT count(*) FROM episodes") >= rows);
    ok(cairn(&l.repo).arg("integrity").arg("--stack").arg(&l.file).args(["--only", "projects"]));
}

#[test]
fn full_loss_the_whole_stack_comes_back_in_place() {
    let l = live("");
    let d = l.tmp.path();
    let rows = appdb::query_i64(&d.join("projects.db"), "SELECT count(*) FROM episodes");
    // Scenario 2: the database (and its -wal/-shm) and the Chroma directory gone.
    for f in ["projects.db", "projects.db-wal", "projects.db-shm"] {
        let _ = fs::remove_file(d.join(f));
    }
    fs::remove_dir_all(d.join("chroma")).unwrap();
    let (_, err) = fails(cairn(Path::new("unused")).arg("integrity").arg("--stack").arg(&l.file));
    assert!(err.contains("problem"), "{err}");
    let out = ok(cairn(&l.repo).arg("restore").arg("--stack").arg(&l.file).arg("--in-place"));
    assert!(out.contains("next steps"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&ok(cairn(Path::new("unused"))
        .arg("integrity")
        .arg("--stack")
        .arg(&l.file)
        .arg("--json")))
    .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(appdb::query_i64(&d.join("projects.db"), "SELECT count(*) FROM episodes"), rows);
}

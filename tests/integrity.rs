//! `cairn integrity --stack`: the guide's daily check of live data against
//! real components — a SQLite database, a Chroma-layout directory, a
//! private redis-server and files. Each kind of damage (an orphaned
//! episode, a corrupted database page, a missing segment file, Redis down)
//! is its own failed check; assertions that write or return more than one
//! value are refused; the log gets a line per run and a local HTTP listener
//! receives the webhook on failure. Nothing is written to the data.

mod common;
use common::redis::Server;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

struct Live {
    tmp: tempfile::TempDir,
    file: PathBuf,
    redis: Option<Server>,
}

fn live(extra: &str) -> Live {
    let tmp = tempfile::tempdir().unwrap();
    let (file, redis) = common::livestack::write(tmp.path(), "", extra);
    Live { tmp, file, redis: Some(redis) }
}

/// Run integrity; (exit code, failed (component, check) pairs, JSON).
fn integrity(l: &Live, args: &[&str]) -> (Option<i32>, Vec<(String, String)>, serde_json::Value) {
    let out = run(cairn(Path::new("unused")).arg("integrity").arg("--stack").arg(&l.file).arg("--json").args(args));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("no JSON: {}", String::from_utf8_lossy(&out.stderr));
    });
    let failed = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| (c["component"].as_str().unwrap().to_string(), c["check"].as_str().unwrap().to_string()))
        .collect();
    (out.status.code(), failed, v)
}

fn pair(c: &str, k: &str) -> (String, String) {
    (c.to_string(), k.to_string())
}

#[test]
fn each_kind_of_damage_is_its_own_failed_check() {
    let mut l = live("");
    let db = l.tmp.path().join("projects.db");
    let data = |l: &Live| digest(l.tmp.path()).into_iter().filter(|(p, _)| !p.starts_with("redis")).collect::<Vec<_>>();
    let before = data(&l);
    let (code, failed, v) = integrity(&l, &[]);
    assert_eq!((code, failed.len()), (Some(0), 0), "{v}");
    assert_eq!(v["checks"].as_array().unwrap().len(), 6, "{v}");
    assert_eq!(data(&l), before, "integrity wrote to the data (or created a -wal/-shm beside it)");

    // An orphaned episode (written with foreign keys off, as a buggy client would).
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "PRAGMA foreign_keys=off; INSERT INTO episodes(project_id, created_at, body) VALUES (9999, 0, 'orphan');",
    )
    .unwrap();
    drop(c);
    let (code, failed, _) = integrity(&l, &[]);
    assert_eq!(code, Some(3));
    assert_eq!(failed, [pair("projects", "foreign_key_check"), pair("projects", "assertion orphaned_episodes")]);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("DELETE FROM episodes WHERE project_id = 9999; PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(c);

    // A missing segment file.
    let seg =
        fs::read_dir(l.tmp.path().join("chroma")).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    let length = fs::read(seg.join("length.bin")).unwrap();
    fs::remove_file(seg.join("length.bin")).unwrap();
    assert_eq!(integrity(&l, &[]).1, [pair("vectors", "chroma")]);
    fs::write(seg.join("length.bin"), length).unwrap();

    // Redis down.
    l.redis = None;
    assert_eq!(integrity(&l, &[]).1, [pair("cache", "redis")]);

    // A corrupted page in the middle of the database.
    let mut bytes = fs::read(&db).unwrap();
    let page = 4096 * (bytes.len() / 4096 / 2);
    bytes[page..page + 4096].fill(0x5a);
    fs::write(&db, &bytes).unwrap();
    let (_, failed, v) = integrity(&l, &["--only", "projects"]);
    assert!(failed.contains(&pair("projects", "quick_check")), "{v}");
    // The checks created or removed no file beside the data.
    assert_eq!(data(&l).len(), before.len(), "integrity created or removed files");
}

#[test]
fn assertions_must_read_one_value_and_failures_are_logged_and_posted() {
    let l = live(
        "bad_write = { sql = \"DELETE FROM projects\", expect = 0, component = \"projects\" }\n\
         two_values = { sql = \"SELECT 1, 2\", expect = 1 }\n",
    );
    let db = l.tmp.path().join("projects.db");
    let projects = appdb::query_i64(&db, "SELECT count(*) FROM projects");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let log = l.tmp.path().join("integrity.log");
    let (failed, body) = std::thread::scope(|sc| {
        let h = sc.spawn(|| common::http::receive_one(&listener));
        let out = run(cairn(Path::new("unused"))
            .env("CAIRN_WEBHOOK_URL", &url)
            .arg("integrity")
            .arg("--stack")
            .arg(&l.file)
            .arg("--log")
            .arg(&log));
        assert_eq!(out.status.code(), Some(3));
        (String::from_utf8_lossy(&out.stdout).into_owned(), h.join().unwrap())
    });
    assert!(failed.contains("would write") && failed.contains("one value"), "{failed}");
    assert_eq!(appdb::query_i64(&db, "SELECT count(*) FROM projects"), projects, "the assertion wrote");
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("2 of 8 checks failed") && text.contains("bad_write"), "{body}");
    ok(cairn(Path::new("unused"))
        .arg("integrity")
        .arg("--stack")
        .arg(&l.file)
        .args(["--only", "scripts", "--log"])
        .arg(&log));
    let lines: Vec<String> = fs::read_to_string(&log).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("2 of 8 checks failed") && lines[1].contains("0 of 1 checks failed"), "{lines:?}");
    // An assertion naming no database in a stack of several, or a missing one: refused at load.
    let text = fs::read_to_string(&l.file).unwrap().replace("component = \"projects\"", "component = \"nope\"");
    fs::write(&l.file, text).unwrap();
    let (code, err) = fails(cairn(Path::new("unused")).arg("integrity").arg("--stack").arg(&l.file));
    one_line(&err);
    assert_eq!(code, 1);
    assert!(err.contains("bad_write") && err.contains("not a sqlite component"), "{err}");
}

/// A webhook that cannot be reached is a warning; the checks' result and
/// exit code stand.
#[test]
fn an_unreachable_webhook_is_reported_never_fatal() {
    let l = live("bad = { sql = \"SELECT 2\", expect = 1, component = \"projects\" }\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = run(cairn(Path::new("unused"))
        .env("CAIRN_WEBHOOK_URL", format!("http://127.0.0.1:{port}/hook"))
        .arg("integrity")
        .arg("--stack")
        .arg(&l.file));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("warning: webhook"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("assertion bad"));
}

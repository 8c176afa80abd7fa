//! SQLite sources against a real SQLite: a live writer process (this test
//! binary started again, with its own connection) in WAL and rollback-journal mode, the
//! operations guide's loss scenarios, failing verifications that must leave
//! the live file untouched, point-in-time selection and bad input.

mod common;
use common::appdb::{make_app_db, query_i64};
use common::*;
use rusqlite::Connection;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Helper processes: this test binary started again with `CAIRN_TEST_HELPER`
/// set runs one of them instead of the tests (a separate process with its
/// own SQLite connection, as the application is), so `cargo test` needs
/// nothing but Rust.
fn spawn_helper(role: &str, db: &Path, mode: &str, signal: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_process", "--ignored", "--nocapture", "--test-threads=1"])
        .env("CAIRN_TEST_HELPER", format!("{role}\u{1f}{}\u{1f}{mode}\u{1f}{}", db.display(), signal.display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Runs only as a helper process (see `spawn_helper`).
#[test]
#[ignore = "helper process for the live-writer tests, started by them"]
fn helper_process() {
    let Ok(spec) = std::env::var("CAIRN_TEST_HELPER") else { return };
    let a: Vec<&str> = spec.split('\u{1f}').collect();
    let (db, mode, signal) = (Path::new(a[1]), a[2], Path::new(a[3]));
    match a[0] {
        "writer" => writer(db, mode, signal),
        "holder" => {
            // Hold an exclusive lock (rollback mode) for 20 s.
            let c = Connection::open(db).unwrap();
            c.execute_batch("BEGIN EXCLUSIVE").unwrap();
            fs::write(signal.with_extension("ready"), b"").unwrap();
            std::thread::sleep(Duration::from_secs(20));
        }
        other => panic!("unknown helper {other}"),
    }
}

/// The writer: transfers between 100 accounts (the total stays 100000) and
/// a strictly increasing sequence, one IMMEDIATE transaction each, until
/// the file `stop` exists.
fn writer(db: &Path, mode: &str, stop: &Path) {
    let c = Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(60)).unwrap();
    let _: String = c.query_row(&format!("PRAGMA journal_mode={mode}"), [], |r| r.get(0)).unwrap();
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS seq(n INTEGER PRIMARY KEY);
         CREATE TABLE IF NOT EXISTS filler(id INTEGER PRIMARY KEY, body BLOB);
         BEGIN;
         INSERT INTO accounts WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 99)
             SELECT x, 1000 FROM c WHERE (SELECT count(*) FROM accounts) = 0;
         INSERT INTO filler(body) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
             SELECT randomblob(1000) FROM c WHERE (SELECT count(*) FROM filler) = 0;
         COMMIT;",
    )
    .unwrap();
    fs::write(stop.with_extension("ready"), b"").unwrap();
    let mut n: i64 = c.query_row("SELECT coalesce(max(n), 0) FROM seq", [], |r| r.get(0)).unwrap();
    let mut rng = cairn::sample::Rng::new(7);
    while !stop.exists() {
        let (a, b, amount) = (rng.next_u64() % 100, rng.next_u64() % 100, 1 + rng.next_u64() % 49);
        n += 1;
        let tx = rusqlite::Transaction::new_unchecked(&c, rusqlite::TransactionBehavior::Immediate).unwrap();
        tx.execute("UPDATE accounts SET balance = balance - ?1 WHERE id = ?2", (amount as i64, a as i64)).unwrap();
        tx.execute("UPDATE accounts SET balance = balance + ?1 WHERE id = ?2", (amount as i64, b as i64)).unwrap();
        tx.execute("INSERT INTO seq VALUES (?1)", [n]).unwrap();
        tx.execute("INSERT INTO filler(body) VALUES (randomblob(300))", []).unwrap();
        tx.commit().unwrap();
    }
}

/// Wait until `p` exists; fail at once if the helper process died instead.
fn wait_for(p: &Path, helper: &mut Child) {
    let start = std::time::Instant::now();
    while !p.exists() {
        assert!(helper.try_wait().unwrap().is_none(), "the helper process exited before {}", p.display());
        assert!(start.elapsed() < Duration::from_secs(60), "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn start_writer(dir: &Path, db: &Path, mode: &str) -> (Child, PathBuf) {
    let stop = dir.join(format!("stop-{mode}"));
    let mut child = spawn_helper("writer", db, mode, &stop);
    wait_for(&stop.with_extension("ready"), &mut child);
    (child, stop)
}

fn backup_db(repo: &Path, db: &Path, extra: &[&str]) -> serde_json::Value {
    let out = ok(cairn(repo).args(["backup", "--json"]).args(extra).arg(format!("sqlite:{}", db.display())));
    serde_json::from_str(out.trim()).unwrap()
}

fn live_writer(mode: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    init_small(&repo);
    let (mut writer, stop) = start_writer(tmp.path(), &db, mode);
    let mut snaps = Vec::new();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(150));
        let before = query_i64(&db, "SELECT coalesce(max(n), 0) FROM seq");
        let v = backup_db(&repo, &db, &[]);
        let after = query_i64(&db, "SELECT coalesce(max(n), 0) FROM seq");
        assert_eq!(v["databases"][0]["journal_mode"], mode);
        assert_eq!(v["databases"][0]["integrity"]["Ok"]["full"], false);
        snaps.push((v["snapshot_id"].as_str().unwrap().to_string(), before, after));
    }
    fs::write(&stop, b"").unwrap();
    assert!(writer.wait().unwrap().success());
    eprintln!("{mode}: (snapshot, sequence before, sequence after) {snaps:?}");
    assert!(snaps.last().unwrap().2 > snaps[0].1, "the writer made no progress during the test");
    for (i, (id, before, after)) in snaps.iter().enumerate() {
        let out = tmp.path().join(format!("restored-{i}.db"));
        ok(cairn(&repo).args(["restore", id, "--sqlite-target"]).arg(&out));
        let c = Connection::open(&out).unwrap();
        let check: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let total: i64 = c.query_row("SELECT sum(balance) FROM accounts", [], |r| r.get(0)).unwrap();
        assert_eq!(total, 100_000, "snapshot {i} broke the transfer invariant");
        let (max, count): (i64, i64) =
            c.query_row("SELECT coalesce(max(n), 0), count(*) FROM seq", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(max, count, "sequence has gaps in snapshot {i}");
        assert!(before <= &max && &max <= after, "snapshot {i}: sequence {max} outside [{before}, {after}]");
    }
}

#[test]
fn live_writer_wal_mode() {
    live_writer("wal");
}

#[test]
fn live_writer_rollback_journal_mode() {
    live_writer("delete");
}

#[test]
fn scenario_partial_loss_fast_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    init_small(&repo);
    make_app_db(&db, 2000);
    backup_db(&repo, &db, &[]);
    let before = query_i64(&db, "SELECT count(*) FROM episodes");
    // Rows created in the last hour (the newest 300) are lost.
    Connection::open(&db).unwrap().execute("DELETE FROM episodes WHERE created_at >= 1700", []).unwrap();
    assert_eq!(query_i64(&db, "SELECT count(*) FROM episodes"), before - 300);
    let orphans = "orphans=SELECT count(*) FROM episodes WHERE project_id NOT IN (SELECT id FROM projects)=0";
    let out =
        ok(cairn(&repo).args(["restore", "latest", "--overwrite", "--assert", orphans, "--sqlite-target"]).arg(&db));
    assert!(out.contains("fast") && out.contains("assertion orphans ok"), "{out}");
    assert!(query_i64(&db, "SELECT count(*) FROM episodes") >= before);
    let leftovers: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!leftovers.iter().any(|n| n.to_string_lossy().contains("cairn-")), "left behind: {leftovers:?}");
}

#[test]
fn scenario_full_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    init_small(&repo);
    make_app_db(&db, 1500);
    let v = backup_db(&repo, &db, &[]);
    let pages = v["databases"][0]["pages"].as_u64().unwrap();
    for f in ["app.db", "app.db-wal", "app.db-shm"] {
        let _ = fs::remove_file(tmp.path().join(f));
    }
    let out = ok(cairn(&repo).args(["restore", "latest", "--json", "--sqlite-target"]).arg(&db));
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["database"]["mode"], "new-path");
    assert_eq!(r["database"]["pages"].as_u64().unwrap(), pages);
    let checks: Vec<&str> = r["database"]["checks"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    for want in ["page hashes match", "integrity_check ok", "foreign_key_check ok", "row counts", "user_version"] {
        assert!(checks.iter().any(|c| c.contains(want)), "{want} missing from {checks:?}");
    }
    // The restored file is the captured page image (WAL checkpointed into it).
    assert_eq!(fs::metadata(&db).unwrap().len(), pages * 4096);
    assert_eq!(query_i64(&db, "SELECT count(*) FROM episodes"), 1500);
}

/// Damage anywhere in the repository's packs, or an assertion that does not
/// hold: the restore fails and the live database is byte-identical.
#[test]
fn failed_verification_leaves_the_live_file_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    init_small(&repo);
    // Large enough for several packs even with its pages compressed in frames.
    make_app_db(&db, 6000);
    backup_db(&repo, &db, &[]);
    // The live file moves on after the snapshot.
    Connection::open(&db).unwrap().execute("DELETE FROM episodes WHERE id % 7 = 0", []).unwrap();
    let live = || -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = live();

    let (code, err) = fails(
        cairn(&repo)
            .args([
                "restore",
                "latest",
                "--overwrite",
                "--assert",
                "never=SELECT count(*) FROM episodes=0",
                "--sqlite-target",
            ])
            .arg(&db),
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("assertion never failed") && err.contains("live database was not changed"), "{err}");
    assert!(before == live(), "a failed assertion changed the live directory");

    let packs: Vec<PathBuf> = walkdir::WalkDir::new(repo.join("data"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.is_file())
        .collect();
    assert!(packs.len() >= 2, "want several packs, got {}", packs.len());
    for pack in &packs {
        let good = fs::read(pack).unwrap();
        let mut bad = good.clone();
        bad[good.len() / 2] ^= 0x20;
        fs::write(pack, &bad).unwrap();
        let (code, err) = fails(cairn(&repo).args(["restore", "latest", "--overwrite", "--sqlite-target"]).arg(&db));
        one_line(&err);
        // Damaged data: the same exit code as a file restore meeting it.
        assert_eq!(code, 3, "{err}");
        assert!(before == live(), "damage in {} changed the live directory: {err}", pack.display());
        fs::write(pack, &good).unwrap();
    }
    ok(cairn(&repo).args(["restore", "latest", "--overwrite", "--sqlite-target"]).arg(&db));
    assert_eq!(query_i64(&db, "SELECT count(*) FROM episodes"), 6000);
}

#[test]
fn point_in_time_picks_the_newest_at_or_before() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    init_small(&repo);
    make_app_db(&db, 100);
    let times = ["2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "2026-03-02T00:00:00Z"];
    let mut ids = Vec::new();
    for (i, t) in times.iter().enumerate() {
        Connection::open(&db)
            .unwrap()
            .execute("INSERT INTO projects(id, name) VALUES (?1, 'new')", [100 + i as i64])
            .unwrap();
        ids.push(backup_db(&repo, &db, &["--time", t])["snapshot_id"].as_str().unwrap().to_string());
    }
    // A files snapshot in between must not be picked for the database.
    let other = tmp.path().join("scripts");
    fs::create_dir(&other).unwrap();
    ok(cairn(&repo).args(["backup", "--time", "2026-03-01T10:30:00Z"]).arg(&other));
    let pick = |at: &str| -> Result<(String, String), String> {
        let out = run(cairn(&repo)
            .args(["restore", "--json", "--at", at, "--source"])
            .arg(format!("sqlite:{}", db.display()))
            .arg("--sqlite-target")
            .arg(tmp.path().join(format!("at-{}.db", at.replace(':', "")))));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(stderr);
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        Ok((v["snapshot_id"].as_str().unwrap().to_string(), stderr))
    };
    let err = pick("2026-03-01T09:59:59Z").unwrap_err();
    assert!(err.contains("no snapshot was taken at or before"), "{err}");
    for (at, want, behind) in [
        ("2026-03-01T10:00:00Z", 0, "0s before"),
        ("2026-03-01T10:59:59Z", 0, "59m 59s before"),
        ("2026-03-01T11:00:00Z", 1, "0s before"),
        ("2026-03-01T23:59:59Z", 1, "12h 59m 59s before"),
        ("2026-03-02T00:00:00Z", 2, "0s before"),
        ("2026-04-02T00:00:01Z", 2, "31d 0h 0m 1s before"),
    ] {
        let (got, note) = pick(at).unwrap();
        assert_eq!(got, ids[want], "--at {at}");
        assert!(note.contains(&ids[want][..8]) && note.contains(behind), "--at {at}: {note}");
    }
    // Without --source the two series are ambiguous; ls and stats take --at too.
    let (_, err) = fails(cairn(&repo).args(["ls", "--at", "2026-03-01T10:45:00Z"]));
    assert!(err.contains("--source"), "{err}");
    let src = format!("sqlite:{}", db.display());
    let out = ok(cairn(&repo).args(["ls", "--at", "2026-03-01T10:45:00Z", "--source", &src]));
    assert!(out.contains("/app.db"), "{out}");
    ok(cairn(&repo).args(["stats", "--json", "--at", "2026-03-01T10:45:00Z", "--source", &src]));
}

#[test]
fn backup_api_fallback_restores_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    init_small(&repo);
    make_app_db(&db, 500);
    let v = backup_db(&repo, &db, &["--sqlite-method", "backup-api"]);
    assert_eq!(v["databases"][0]["method"], "BackupApi");
    let out = tmp.path().join("copy.db");
    ok(cairn(&repo).args(["restore", "latest", "--sqlite-target"]).arg(&out));
    assert_eq!(query_i64(&out, "SELECT count(*) FROM episodes"), 500);
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    init_small(&repo);
    make_app_db(&db, 300);
    backup_db(&repo, &db, &[]);
    let before = digest(&repo);

    // Not a database (a text file; an encrypted database looks the same).
    let notes = tmp.path().join("notes.txt");
    fs::write(&notes, "INT. KITCHEN - DAY\n".repeat(100)).unwrap();
    let (_, err) = fails(cairn(&repo).arg("backup").arg(format!("sqlite:{}", notes.display())));
    one_line(&err);
    assert!(err.contains("is not a SQLite database"), "{err}");
    let (_, err) = fails(cairn(&repo).arg("backup").arg(format!("sqlite:{}", tmp.path().join("missing.db").display())));
    one_line(&err);
    assert_eq!(digest(&repo), before);

    // Locked exclusively (rollback mode) for longer than --max-hold.
    let locked = tmp.path().join("locked.db");
    Connection::open(&locked).unwrap().execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
    let signal = tmp.path().join("holder");
    let mut holder = spawn_helper("holder", &locked, "delete", &signal);
    wait_for(&signal.with_extension("ready"), &mut holder);
    let t = std::time::Instant::now();
    let (_, err) =
        fails(cairn(&repo).args(["backup", "--max-hold", "0.5"]).arg(format!("sqlite:{}", locked.display())));
    holder.kill().unwrap();
    let _ = holder.wait();
    one_line(&err);
    assert!(err.contains("locked") && err.contains("--max-hold"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "waited {:?}", t.elapsed());
    assert_eq!(digest(&repo), before, "a failed backup left objects behind");
    let (_, err) = fails(cairn(&repo).args(["backup", "--max-hold=-1"]).arg(format!("sqlite:{}", db.display())));
    one_line(&err);

    // A restore target in a directory nobody may write (sysfs refuses even root).
    let (_, err) = fails(cairn(&repo).args(["restore", "latest", "--sqlite-target", "/sys/cairn-test.db"]));
    one_line(&err);
    assert!(err.contains("cannot write"), "{err}");
    // An existing file without --overwrite.
    let live = fs::read(&db).unwrap();
    let (_, err) = fails(cairn(&repo).args(["restore", "latest", "--sqlite-target"]).arg(&db));
    one_line(&err);
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(fs::read(&db).unwrap(), live);
    let (_, err) = fails(
        cairn(&repo)
            .args(["restore", "latest", "--assert", "nonsense", "--sqlite-target"])
            .arg(tmp.path().join("x.db")),
    );
    one_line(&err);
    assert!(err.contains("NAME=SQL=EXPECTED"), "{err}");
}

/// A corrupt database is still captured (a backup tool should keep what it
/// can), with the integrity failure as a warning and in the record.
#[test]
fn corrupt_database_is_captured_with_a_recorded_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("broken.db"));
    init_small(&repo);
    let c = Connection::open(&db).unwrap();
    c.execute_batch("CREATE TABLE small(x); INSERT INTO small VALUES (1), (2); CREATE TABLE big(y);").unwrap();
    drop(c);
    // Page 2 is the root (a leaf) of table `small`: make its type byte invalid.
    let mut bytes = fs::read(&db).unwrap();
    bytes[4096] = 0x00;
    fs::write(&db, &bytes).unwrap();
    let out = run(cairn(&repo).args(["backup", "--json"]).arg(format!("sqlite:{}", db.display())));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning") && err.contains("integrity check failed"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["databases"][0]["integrity"]["Failed"].is_string(), "{v}");
    // Restoring it is refused by verification, naming why.
    let (code, err) = fails(cairn(&repo).args(["restore", "latest", "--sqlite-target"]).arg(tmp.path().join("r.db")));
    assert_eq!(code, 3);
    assert!(err.contains("integrity_check"), "{err}");
}

/// Zero-downtime mode: restore to a new path, verify, then repoint the
/// symlink the application opens; the old file stays untouched.
#[test]
fn zero_downtime_switches_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, v1) = (tmp.path().join("repo"), tmp.path().join("app-v1.db"));
    init_small(&repo);
    make_app_db(&v1, 400);
    let link = tmp.path().join("app.db");
    std::os::unix::fs::symlink(&v1, &link).unwrap();
    backup_db(&repo, &link, &[]);
    Connection::open(&link).unwrap().execute("DELETE FROM episodes", []).unwrap();
    let old = fs::read(&v1).unwrap();
    let v2 = tmp.path().join("app-v2.db");
    let out =
        ok(cairn(&repo).args(["restore", "latest", "--switch-symlink"]).arg(&link).arg("--sqlite-target").arg(&v2));
    assert!(out.contains(&v2.display().to_string()) && out.contains("now points to"), "{out}");
    assert_eq!(fs::read_link(&link).unwrap(), v2);
    assert_eq!(query_i64(&link, "SELECT count(*) FROM episodes"), 400);
    assert_eq!(fs::read(&v1).unwrap(), old, "the old file must stay as it was");
    // A regular file where the symlink should be is refused before anything moves.
    let (_, err) = fails(
        cairn(&repo)
            .args(["restore", "latest", "--switch-symlink"])
            .arg(&v1)
            .arg("--sqlite-target")
            .arg(tmp.path().join("v3.db")),
    );
    one_line(&err);
    assert_eq!(fs::read(&v1).unwrap(), old);
}

/// In a format-4 repository, pages of a database over 2048 pages are
/// compressed with a dictionary trained on its own pages, stored once and
/// reused by the next snapshot; a damaged dictionary makes only what uses
/// it unreadable, by name.
#[test]
fn page_dictionary_trained_once_reused_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db) = (tmp.path().join("repo"), tmp.path().join("app.db"));
    ok(cairn(&repo).args(["init", "--repository-version", "4"]).args(common::SMALL_CHUNKS).args(common::FAST_KDF));
    make_app_db(&db, 12_000);
    backup_db(&repo, &db, &[]);
    Connection::open(&db).unwrap().execute("DELETE FROM episodes WHERE id % 50 = 0", []).unwrap();
    backup_db(&repo, &db, &[]);
    let dicts: Vec<PathBuf> = fs::read_dir(repo.join("dictionaries")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dicts.len(), 1, "one dictionary for the series");
    ok(cairn(&repo).args(["check", "--read-data"]));
    let out = tmp.path().join("restored.db");
    ok(cairn(&repo).args(["restore", "latest", "--sqlite-target"]).arg(&out));
    assert_eq!(query_i64(&out, "SELECT count(*) FROM episodes"), 12_000 - 240);

    let good = fs::read(&dicts[0]).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    fs::write(&dicts[0], &bad).unwrap();
    let live = fs::read(&db).unwrap();
    let (code, err) = fails(cairn(&repo).args(["restore", "latest", "--overwrite", "--sqlite-target"]).arg(&db));
    one_line(&err);
    assert!(err.contains("dictionary"), "exit {code}: {err}");
    assert_eq!(fs::read(&db).unwrap(), live, "the live database must be untouched");
    let (_, err) = fails(cairn(&repo).arg("check"));
    let stdout = String::from_utf8(run(cairn(&repo).arg("check")).stdout).unwrap();
    assert!(stdout.contains("dictionaries/") || err.contains("dictionaries/"), "{stdout}{err}");
    fs::write(&dicts[0], &good).unwrap();
    ok(cairn(&repo).args(["check", "--read-data"]));
    // A deleted dictionary: plain check (without --read-data) names it and
    // the database that needs it; a restore fails with exit 3.
    fs::remove_file(&dicts[0]).unwrap();
    let out = run(cairn(&repo).arg("check"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let name = dicts[0].file_name().unwrap().to_string_lossy();
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains(&*name) && stdout.contains("missing") && stdout.contains("app.db"), "{stdout}");
    let (code, err) = fails(cairn(&repo).args(["restore", "latest", "--sqlite-target"]).arg(tmp.path().join("x.db")));
    assert_eq!(code, 3, "{err}");
    fs::write(&dicts[0], &good).unwrap();
}

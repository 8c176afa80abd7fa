//! The S3 backend against a real S3-compatible store (Garage, one node on
//! loopback): the backend conformance suite, then the end-to-end path —
//! init, backups of files and a SQLite database, restore byte-exact,
//! check --read-data, forget, prune.

mod common;
use common::garage::Garage;
use common::*;
use std::path::Path;

#[test]
fn s3_backend_conforms_and_a_repository_round_trips() {
    let g = Garage::start();
    // SAFETY (set_var): this binary's only test sets them, before any thread of its own.
    std::env::set_var("AWS_ACCESS_KEY_ID", &g.key_id);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &g.secret);
    std::env::set_var("AWS_REGION", "garage");
    cairn::backend::conformance(&cairn::backend::s3::S3Backend::open(&g.repo("conformance")).unwrap());

    let repo = g.repo("e2e");
    let at = Path::new(&repo);
    let tmp = tempfile::tempdir().unwrap();
    let (data, db) = (tmp.path().join("data"), tmp.path().join("app.db"));
    ok(g.env(&mut cairn(at)).arg("init").args(SMALL_CHUNKS).args(FAST_KDF));
    state(&data, 5);
    appdb::make_app_db(&db, 300);
    let sqlite = format!("sqlite:{}", db.display());
    ok(g.env(&mut cairn(at)).arg("backup").arg(&data).arg(&sqlite));
    state(&data, 6);
    ok(g.env(&mut cairn(at)).arg("backup").arg(&data).arg(&sqlite));
    let out = tmp.path().join("out");
    ok(g.env(&mut cairn(at)).args(["restore", "latest", "--target"]).arg(&out));
    assert_eq!(digest(&out.join("data")), digest(&data));
    assert_eq!(appdb::query_i64(&out.join("app.db"), "SELECT count(*) FROM episodes"), 300);
    ok(g.env(&mut cairn(at)).args(["check", "--read-data"]));
    ok(g.env(&mut cairn(at)).args(["forget", "--keep-last", "1", "--prune"]));
    ok(g.env(&mut cairn(at)).args(["check", "--read-data"]));
    // A second init on the same prefix is refused, in one line.
    let (_, err) = fails(g.env(&mut cairn(at)).arg("init").args(FAST_KDF));
    one_line(&err);
}

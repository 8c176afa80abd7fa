//! `dump`: a file byte-exact, a directory and a whole snapshot as tar
//! (unpacked by tar(1) and compared with the source), a SQLite database as
//! a consistent .db that SQLite opens; wrong paths refused in one line.

mod common;
use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

fn dumped(repo: &Path, id: &str, path: &str) -> Vec<u8> {
    let out = run(cairn(repo).args(["dump", id, path]));
    assert!(out.status.success(), "dump {path}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn untar(bytes: &[u8], into: &Path) {
    fs::create_dir_all(into).unwrap();
    let tarball = into.with_extension("tar");
    fs::write(&tarball, bytes).unwrap();
    let st = Command::new("tar").arg("-xpf").arg(&tarball).arg("-C").arg(into).status().unwrap();
    assert!(st.success(), "tar(1) could not unpack the dump");
}

#[test]
fn dump_files_directories_and_databases() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, db) = (tmp.path().join("repo"), tmp.path().join("data"), tmp.path().join("app.db"));
    init_small(&repo);
    state(&data, 30);
    fs::create_dir_all(data.join("sub/deeper")).unwrap();
    let mut big = vec![0u8; 600_000];
    cairn::sample::Rng::new(3).fill(&mut big);
    fs::write(data.join("sub/deeper/big.bin"), &big).unwrap();
    std::os::unix::fs::symlink("../file-01", data.join("sub/link")).unwrap();
    appdb::make_app_db(&db, 500);
    let out = ok(cairn(&repo).args(["backup", "--json"]).arg(&data).arg(format!("sqlite:{}", db.display())));
    let id =
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["snapshot_id"].as_str().unwrap().to_string();

    assert_eq!(dumped(&repo, &id, "/data/sub/deeper/big.bin"), big);
    assert_eq!(dumped(&repo, &id, "data/file-07"), fs::read(data.join("file-07")).unwrap());

    let dir = tmp.path().join("dir");
    untar(&dumped(&repo, &id, "/data"), &dir);
    cairn::sample::compare_trees(&data, &dir.join("data")).unwrap();

    let all = tmp.path().join("all");
    untar(&dumped(&repo, &id, "/"), &all);
    cairn::sample::compare_trees(&data, &all.join("data")).unwrap();
    assert_eq!(appdb::query_i64(&all.join("app.db"), "SELECT count(*) FROM episodes"), 500);

    let copy = tmp.path().join("copy.db");
    fs::write(&copy, dumped(&repo, &id, "/app.db")).unwrap();
    let c = rusqlite::Connection::open(&copy).unwrap();
    let check: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    assert_eq!(appdb::query_i64(&copy, "SELECT count(*) FROM episodes"), 500);

    for (path, says) in [("/data/nope", "nope"), ("/data/sub/link", "symlink")] {
        let (code, err) = fails(cairn(&repo).args(["dump", &id, path]));
        assert_eq!(code, 1, "{err}");
        one_line(&err);
        assert!(err.contains(says), "{err}");
    }
    let (_, err) = fails(cairn(&repo).args(["dump", "deadbeef", "/data"]));
    one_line(&err);
}

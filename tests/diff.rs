//! `diff` between two snapshots of files, a SQLite database and a Chroma
//! directory: files added, removed, modified and touched; the number of
//! changed database pages, held against the database files' own pages;
//! Chroma's changed parts.

mod common;
use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Pages that differ between two database images, and pages added.
fn page_changes(a: &[u8], b: &[u8], page: usize) -> (u64, u64) {
    let (na, nb) = (a.len() / page, b.len() / page);
    let changed = (0..na.min(nb)).filter(|&i| a[i * page..(i + 1) * page] != b[i * page..(i + 1) * page]).count();
    (changed as u64, nb.saturating_sub(na) as u64)
}

/// The database file after a full checkpoint: the image a backup reads.
fn image(db: &Path) -> Vec<u8> {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    drop(c);
    fs::read(db).unwrap()
}

#[test]
fn diff_names_files_pages_and_vector_parts() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, files, db, vectors) =
        (tmp.path().join("repo"), tmp.path().join("files"), tmp.path().join("app.db"), tmp.path().join("chroma"));
    init_small(&repo);
    fs::create_dir_all(&files).unwrap();
    for n in ["a", "b", "c"] {
        fs::write(files.join(n), n.repeat(1000)).unwrap();
    }
    appdb::make_app_db(&db, 2000);
    chroma::make(&vectors, 1500, 1);
    let sources = |c: &mut std::process::Command| {
        c.arg(&files).arg(format!("sqlite:{}", db.display())).arg(format!("chroma:{}", vectors.display()));
    };
    let before = image(&db);
    let mut c = cairn(&repo);
    c.args(["backup", "--json"]);
    sources(&mut c);
    let first: serde_json::Value = serde_json::from_str(ok(&mut c).trim()).unwrap();

    fs::write(files.join("a"), "changed").unwrap();
    fs::remove_file(files.join("b")).unwrap();
    fs::set_permissions(files.join("c"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(files.join("d"), "new").unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE episodes SET body = 'rewritten' WHERE id IN (5, 900); INSERT INTO projects(name) VALUES ('new');",
    )
    .unwrap();
    drop(conn);
    chroma::change(&vectors, 1000, 10, 0, 2); // 1,000 adds: Chroma persists its HNSW files
    let after = image(&db);
    let mut c = cairn(&repo);
    c.args(["backup", "--json"]);
    sources(&mut c);
    let second: serde_json::Value = serde_json::from_str(ok(&mut c).trim()).unwrap();
    let (a, b) = (first["snapshot_id"].as_str().unwrap(), second["snapshot_id"].as_str().unwrap());

    let d: serde_json::Value = serde_json::from_str(ok(cairn(&repo).args(["diff", "--json", a, b])).trim()).unwrap();
    let change = |path: &str| {
        d["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == path)
            .map(|e| e["change"].as_str().unwrap().to_string())
    };
    assert_eq!(change("/files/a").as_deref(), Some("modified"), "{d}");
    assert_eq!(change("/files/b").as_deref(), Some("removed"), "{d}");
    assert_eq!(change("/files/c").as_deref(), Some("metadata"), "{d}");
    assert_eq!(change("/files/d").as_deref(), Some("added"), "{d}");
    assert_eq!(d["counts"]["added"], 1);
    assert_eq!(d["counts"]["removed"], 1);

    // The database: exactly the pages that differ between the two images.
    let entry = d["entries"].as_array().unwrap().iter().find(|e| e["path"] == "/app.db").expect("app.db modified");
    assert_eq!(entry["kind"], "sqlite");
    let part = &entry["parts"][0];
    let (changed, added) = page_changes(&before, &after, 4096);
    assert!(changed > 0, "the update changed no page?");
    assert_eq!(
        (part["unit"].as_str(), part["changed"].as_u64(), part["added"].as_u64()),
        (Some("pages"), Some(changed), Some(added)),
        "{part}"
    );
    assert_eq!(part["total"].as_u64(), Some(after.len() as u64 / 4096));

    // Chroma: modified, with its changed parts named.
    let entry = d["entries"].as_array().unwrap().iter().find(|e| e["path"] == "/chroma").expect("chroma modified");
    assert_eq!(entry["kind"], "chroma");
    let parts = entry["parts"].as_array().unwrap();
    assert!(parts.iter().any(|p| p["path"] == "chroma.sqlite3" && p["unit"] == "pages"), "{entry}");
    let grown: u64 = parts.iter().filter(|p| p["unit"] == "elements").map(|p| p["added"].as_u64().unwrap()).sum();
    assert!(grown >= 1000, "1,000 embeddings added, {grown} HNSW elements: {entry}");

    // Text: one line per entry, the parts below, the counts last.
    let text = ok(cairn(&repo).args(["diff", a, b]));
    assert!(
        text.contains("+    /files/d") && text.contains("-    /files/b") && text.contains("U    /files/c"),
        "{text}"
    );
    assert!(text.contains(&format!("app.db: {changed} of")), "{text}");
    assert!(text.trim_end().ends_with("metadata only"), "{text}");
    // The same snapshot twice: nothing.
    let same = ok(cairn(&repo).args(["diff", a, a]));
    assert_eq!(same.trim(), "0 added, 0 removed, 0 modified, 0 metadata only");

    let (code, err) = fails(cairn(&repo).args(["diff", a, "deadbeef"]));
    assert_eq!(code, 1);
    one_line(&err);
}

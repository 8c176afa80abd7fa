//! Files sources at scale and with exclusions: a second snapshot of an
//! unchanged 100,000-file tree reads less than 1% of the bytes of the
//! first (metadata from the parent decides); `--exclude` leaves entries
//! out by name or by path, and a bad pattern fails before anything runs.

mod common;
use common::*;
use std::fs;

fn backup_json(repo: &std::path::Path, args: &[&str], src: &std::path::Path) -> serde_json::Value {
    let out = ok(cairn(repo).args(["backup", "--json"]).args(args).arg(src));
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn unchanged_100000_files_are_not_read_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("scripts"));
    for d in 0..100 {
        let dir = src.join(format!("project-{d:03}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..1000 {
            fs::write(
                dir.join(format!("ep-{f:04}.txt")),
                format!("INT. ROOM {d}-{f} - NIGHT. {}", "Words. ".repeat(20)),
            )
            .unwrap();
        }
    }
    init_small(&repo);
    let first = backup_json(&repo, &[], &src);
    let second = backup_json(&repo, &[], &src);
    let (a, b) = (first["bytes_read"].as_u64().unwrap(), second["bytes_read"].as_u64().unwrap());
    assert_eq!(first["files_new"], 100_000);
    assert_eq!(second["files_unmodified"], 100_000, "{second}");
    assert!(a > 10_000_000 && (b as f64) < 0.01 * a as f64, "second snapshot read {b} of {a} bytes");
}

#[test]
fn exclude_by_name_and_by_path() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    for (p, body) in [
        ("a.txt", "a"),
        ("x.tmp", "t"),
        ("sub/y.tmp", "t"),
        ("sub/keep.md", "k"),
        ("cache/big", "c"),
        ("drafts/old", "o"),
        ("drafts/new", "n"),
    ] {
        fs::create_dir_all(src.join(p).parent().unwrap()).unwrap();
        fs::write(src.join(p), body).unwrap();
    }
    init_small(&repo);
    backup_json(&repo, &["--exclude", "*.tmp", "--exclude", "cache", "--exclude", "drafts/old"], &src);
    let out = tmp.path().join("out");
    ok(cairn(&repo).args(["restore", "latest", "--target"]).arg(&out));
    let mut got: Vec<String> = walkdir::WalkDir::new(out.join("data"))
        .into_iter()
        .map(|e| e.unwrap().path().strip_prefix(out.join("data")).unwrap().display().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    got.sort();
    assert_eq!(got, ["a.txt", "drafts", "drafts/new", "sub", "sub/keep.md"]);
    let (code, err) = fails(cairn(&repo).args(["backup", "--exclude", "a[b"]).arg(&src));
    assert_ne!(code, 0);
    one_line(&err);
    assert!(err.contains("a[b"), "{err}");
    assert_eq!(snapshots(&repo).len(), 1, "a snapshot was written");
}

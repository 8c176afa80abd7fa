//! What a backup reads: `--exclude-file`, `--iexclude`, `--exclude-if-present`,
//! `--one-file-system`, `--files-from`, `--stdin`, `--parent`; each on a
//! real tree, checked through what `ls` and `restore` show, and its bad
//! input refused with one line and nothing written.

mod common;
use common::*;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// Every path `ls --json` lists under the snapshot, relative to the root.
fn listed(repo: &Path, id: &str) -> Vec<String> {
    let out = ok(cairn(repo).args(["ls", "--json", id]));
    let mut paths: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|e| e["path"].as_str().map(String::from))
        .collect();
    paths.sort();
    paths
}

fn tree(dir: &Path) {
    for (p, body) in [
        ("keep/a.txt", "a"),
        ("keep/B.LOG", "log"),
        ("keep/c.log", "log"),
        ("keep/x.tmp", "tmp"),
        ("cache/.nobackup", ""),
        ("cache/big.bin", "cached"),
        ("deep/cache2/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55"),
        ("deep/cache2/junk", "junk"),
        ("deep/kept", "kept"),
    ] {
        let f = dir.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, body).unwrap();
    }
}

#[test]
fn exclude_flags_leave_out_what_they_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    tree(&data);
    let list = tmp.path().join("excludes");
    fs::write(&list, "# scratch files\n\n*.tmp\n").unwrap();
    let out = ok(cairn(&repo)
        .args(["backup", "--json", "--exclude-file"])
        .arg(&list)
        .args(["--iexclude", "*.log", "--exclude-if-present", ".nobackup", "--exclude-if-present", "CACHEDIR.TAG"])
        .arg(&data));
    let id =
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["snapshot_id"].as_str().unwrap().to_string();
    let paths = listed(&repo, &id);
    let names: Vec<&str> = paths.iter().map(|p| p.trim_start_matches('/')).collect();
    assert!(names.contains(&"data/keep/a.txt") && names.contains(&"data/deep/kept"), "{names:?}");
    for gone in ["x.tmp", "B.LOG", "c.log", "cache", "cache2"] {
        assert!(!names.iter().any(|n| n.split('/').any(|c| c == gone)), "{gone} was not left out: {names:?}");
    }

    // Bad input: one line each, nothing written.
    let before = digest(&repo);
    for args in
        [vec!["--exclude-file", "/nonexistent/list"], vec!["--iexclude", "a[b"], vec!["--exclude-if-present", "a/b"]]
    {
        let (code, err) = fails(cairn(&repo).arg("backup").args(&args).arg(&data));
        assert_eq!(code, 1, "{args:?}: {err}");
        one_line(&err);
        assert!(err.contains(args[0]) || err.contains(args[1]), "{args:?}: the error names neither: {err}");
    }
    assert_eq!(digest(&repo), before, "a refused backup changed the repository");
}

#[test]
fn one_file_system_does_not_cross_a_mount() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    fs::create_dir_all(data.join("mnt")).unwrap();
    fs::write(data.join("own"), "own").unwrap();
    let st = std::process::Command::new("mount").args(["-t", "tmpfs", "cairn-test"]).arg(data.join("mnt")).status();
    assert!(
        st.is_ok_and(|s| s.success()),
        "mounting a tmpfs failed: this test needs root (run ./scripts/test as root, as CI does)"
    );
    fs::write(data.join("mnt/other"), "other fs").unwrap();
    let crossing = backup(&repo, &[&data]);
    let staying =
        String::from_utf8(run(cairn(&repo).args(["backup", "--json", "--one-file-system"]).arg(&data)).stdout).unwrap();
    let _ = std::process::Command::new("umount").arg(data.join("mnt")).status();
    let staying =
        serde_json::from_str::<serde_json::Value>(staying.trim()).unwrap()["snapshot_id"].as_str().unwrap().to_string();
    assert!(listed(&repo, &crossing).iter().any(|p| p.ends_with("mnt/other")));
    let kept = listed(&repo, &staying);
    assert!(kept.iter().any(|p| p.ends_with("/own")), "{kept:?}");
    assert!(!kept.iter().any(|p| p.ends_with("mnt/other")), "crossed into the tmpfs: {kept:?}");
}

#[test]
fn files_from_adds_the_listed_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    init_small(&repo);
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    for d in [&a, &b, &c] {
        fs::create_dir_all(d).unwrap();
        fs::write(d.join("f"), d.display().to_string()).unwrap();
    }
    let list = tmp.path().join("list");
    fs::write(&list, format!("# sources\n{}\n\n{}\n", a.display(), b.display())).unwrap();
    let out = ok(cairn(&repo).args(["backup", "--json", "--files-from"]).arg(&list).arg(&c));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sources"].as_array().unwrap().len(), 3, "{v}");
    let paths = listed(&repo, v["snapshot_id"].as_str().unwrap());
    for d in ["/a/f", "/b/f", "/c/f"] {
        assert!(paths.iter().any(|p| p.ends_with(d)), "{d} missing: {paths:?}");
    }
    // A list naming nothing, or a missing path in it: refused, nothing written.
    let before = digest(&repo);
    fs::write(&list, "# nothing\n").unwrap();
    let (_, err) = fails(cairn(&repo).args(["backup", "--files-from"]).arg(&list));
    one_line(&err);
    assert!(err.contains("--files-from"), "{err}");
    fs::write(&list, tmp.path().join("missing").display().to_string()).unwrap();
    let (_, err) = fails(cairn(&repo).args(["backup", "--files-from"]).arg(&list));
    one_line(&err);
    assert_eq!(digest(&repo), before);
}

fn backup_stdin(repo: &Path, data: &[u8], name: &str) -> serde_json::Value {
    let mut child = cairn(repo)
        .args(["backup", "--json", "--stdin", "--stdin-filename", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
}

#[test]
fn stdin_is_stored_as_one_file_and_deduplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    init_small(&repo);
    let mut dump = vec![0u8; 3 << 20];
    cairn::sample::Rng::new(5).fill(&mut dump);
    let first = backup_stdin(&repo, &dump, "db.sql");
    assert_eq!(first["sources"][0], "stdin:db.sql", "{first}");
    // The next night's dump: one small change in the middle.
    dump[1 << 20..(1 << 20) + 100].fill(7);
    let second = backup_stdin(&repo, &dump, "db.sql");
    let (a, b) = (first["bytes_new_stored"].as_u64().unwrap(), second["bytes_new_stored"].as_u64().unwrap());
    assert!(b < a / 10, "the second dump stored {b} of {a}: not deduplicated");

    let out = tmp.path().join("out");
    ok(cairn(&repo).args(["restore", second["snapshot_id"].as_str().unwrap(), "--target"]).arg(&out));
    assert_eq!(fs::read(out.join("db.sql")).unwrap(), dump);

    // Nothing piped in, a name with '/', or a terminal: refused, nothing written.
    let before = digest(&repo);
    let o = cairn(&repo).args(["backup", "--stdin"]).stdin(Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    one_line(&err);
    assert!(err.contains("--stdin"), "{err}");
    let o = cairn(&repo).args(["backup", "--stdin", "--stdin-filename", "a/b"]).stdin(Stdio::null()).output().unwrap();
    one_line(&String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--stdin-filename"));
    assert_eq!(digest(&repo), before);
}

#[test]
fn parent_names_the_snapshot_to_compare_with() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    state(&data, 3);
    let first = backup(&repo, &[&data]);
    // Another host has no parent of its own: every file is read again...
    let other = backup_json(&repo, &[&data]);
    assert!(other["files_unmodified"].as_u64().unwrap() > 0);
    let o = ok(cairn(&repo).args(["backup", "--json", "--host", "elsewhere"]).arg(&data));
    let v: serde_json::Value = serde_json::from_str(o.trim()).unwrap();
    assert_eq!(v["files_unmodified"], 0, "{v}");
    // ...unless told which snapshot to compare with.
    let o = ok(cairn(&repo).args(["backup", "--json", "--host", "third", "--parent", &first[..8]]).arg(&data));
    let v: serde_json::Value = serde_json::from_str(o.trim()).unwrap();
    assert_eq!(v["files_new"], 0, "{v}");
    assert!(v["files_unmodified"].as_u64().unwrap() >= 30, "{v}");
    let (code, err) = fails(cairn(&repo).args(["backup", "--parent", "deadbeef"]).arg(&data));
    one_line(&err);
    assert_ne!(code, 0);
}

#[test]
fn restore_exclude_leaves_out_names_and_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    tree(&data);
    let id = backup(&repo, &[&data]);
    let out = tmp.path().join("out");
    ok(cairn(&repo).args(["restore", &id, "--exclude", "*.log", "--exclude", "data/deep/**", "--target"]).arg(&out));
    assert_eq!(fs::read(out.join("data/keep/a.txt")).unwrap(), b"a");
    assert_eq!(fs::read(out.join("data/keep/B.LOG")).unwrap(), b"log", "--exclude is case-sensitive");
    assert!(!out.join("data/keep/c.log").exists());
    assert!(out.join("data/deep").is_dir() && fs::read_dir(out.join("data/deep")).unwrap().next().is_none());
    // With --include: the included subtree minus the excluded.
    let out2 = tmp.path().join("out2");
    ok(cairn(&repo).args(["restore", &id, "--include", "data/keep", "-e", "x.tmp", "--target"]).arg(&out2));
    assert!(out2.join("data/keep/a.txt").exists() && !out2.join("data/keep/x.tmp").exists());
    assert!(!out2.join("data/cache").exists());
    // Excluding everything: refused, nothing written.
    let out3 = tmp.path().join("out3");
    let (_, err) = fails(cairn(&repo).args(["restore", &id, "--exclude", "data", "--target"]).arg(&out3));
    one_line(&err);
    assert!(err.contains("--exclude"), "{err}");
    assert!(!out3.exists());
}

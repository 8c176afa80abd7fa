//! Chroma directories with the real chromadb package (pinned; installed by
//! `scripts/test`): round trips that query the restored directory, a live
//! writer crossing persists during snapshots, a persist forced inside the
//! capture window, verified restore over a live directory, what a persist
//! costs, and bad input.

mod common;
use common::chroma::{self as ch, python};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn repo_in(tmp: &Path) -> PathBuf {
    let repo = tmp.join("repo");
    init_small(&repo);
    repo
}

fn spec(dir: &Path) -> String {
    format!("chroma:{}", dir.display())
}

fn backup_chroma(repo: &Path, dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = ok(cairn(repo).args(["backup", "--json"]).args(extra).arg(spec(dir)));
    serde_json::from_str(&out).unwrap()
}

/// What a query-level comparison needs from a directory, taken on a copy
/// (opening a directory writes to it).
fn dump_copy(dir: &Path, scratch: &Path) -> serde_json::Value {
    let _ = fs::remove_dir_all(scratch);
    copy_tree(dir, scratch);
    ch::dump(scratch)
}

fn restore_to(repo: &Path, snap: &str, target: &Path) {
    ok(cairn(repo).args(["restore", snap, "--chroma-target"]).arg(target));
}

#[test]
fn round_trip_after_adds_updates_and_deletes() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, dir) = (repo_in(tmp.path()), tmp.path().join("chroma"));
    ch::make(&dir, 20_000, 1);
    let first = backup_chroma(&repo, &dir, &[]);
    let before = dump_copy(&dir, &tmp.path().join("scratch"));
    ch::change(&dir, 1000, 500, 500, 2);
    let second = backup_chroma(&repo, &dir, &[]);
    let after = dump_copy(&dir, &tmp.path().join("scratch"));
    assert_eq!(after["count"], 20_500);
    assert_ne!(before["embeddings_sha256"], after["embeddings_sha256"]);
    for (snap, want) in [(&first, &before), (&second, &after)] {
        let id = snap["snapshot_id"].as_str().unwrap();
        let out = tmp.path().join(format!("restored-{}", &id[..8]));
        restore_to(&repo, id, &out);
        assert_eq!(&ch::dump(&out), want, "snapshot {id} restores other contents or query results");
    }
    let vs = &second["vector_stores"][0];
    assert_eq!(vs["collections"], 1);
    assert_eq!(vs["items"], 20_500);
    assert!(vs["layouts"].as_array().unwrap().iter().any(|v| v["chunking"] == "hnsw-records"), "{vs}");
    ok(cairn(&repo).args(["check", "--read-data"]));
}

/// A writer adds, updates and deletes continuously (crossing persists)
/// while five snapshots are taken; each restores to exactly the state after
/// some operation the writer logged.
#[test]
fn live_writer_every_snapshot_is_one_moment() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, dir) = (repo_in(tmp.path()), tmp.path().join("chroma"));
    ch::make(&dir, 5_000, 3);
    let (log, stop) = (tmp.path().join("writer.log"), tmp.path().join("stop"));
    let mut w = ch::writer(&dir, &log, &stop);
    // At least 8 operations (about 800 changes; a persist every 1,000)
    // before each snapshot, however slow the machine.
    let ops = || fs::read_to_string(&log).map(|s| s.lines().count()).unwrap_or(0);
    let mut snaps = Vec::new();
    for _ in 0..5 {
        let (start, t0) = (ops(), std::time::Instant::now());
        while ops() < start + 8 {
            assert!(t0.elapsed().as_secs() < 120, "the writer stalled at {} operations", ops());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        snaps.push(backup_chroma(&repo, &dir, &["--chroma-attempts", "20"]));
    }
    fs::write(&stop, b"").unwrap();
    assert!(w.wait().unwrap().success(), "the writer failed");
    // The id set after each logged operation.
    let mut live: std::collections::BTreeSet<String> = (0..5_000).map(|i| format!("id{i}")).collect();
    let mut states = vec![live.clone()];
    for line in fs::read_to_string(&log).unwrap().lines() {
        let op: serde_json::Value = serde_json::from_str(line).unwrap();
        let ids = op["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string());
        match op["op"].as_str().unwrap() {
            "add" => live.extend(ids),
            "delete" => ids.for_each(|i| {
                live.remove(&i);
            }),
            _ => {}
        }
        states.push(live.clone());
    }
    assert!(states.len() > 40, "the writer did only {} operations", states.len());
    let mut moments = Vec::new();
    for s in &snaps {
        let id = s["snapshot_id"].as_str().unwrap();
        let out = tmp.path().join(format!("r-{}", &id[..8]));
        restore_to(&repo, id, &out);
        let got = ch::ids(&out);
        assert!(got["no_metadata"].as_array().unwrap().is_empty(), "ids without metadata: {got}");
        assert_eq!(got["count"], got["rows"], "count() differs from its database's rows");
        let set: std::collections::BTreeSet<String> =
            got["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        let at = states.iter().position(|s| *s == set);
        assert!(at.is_some(), "snapshot {id} holds {} ids, the state of no single moment", set.len());
        moments.push(at.unwrap());
    }
    assert!(moments.windows(2).all(|w| w[0] <= w[1]), "moments out of order: {moments:?}");
    assert!(moments.first() != moments.last(), "the writer never moved between snapshots: {moments:?}");
}

/// A persist forced between the SQLite read and the segment files: the
/// capture sees the change and reads again; with one attempt allowed it
/// fails with one line naming the file, and nothing is committed.
#[test]
fn persist_inside_the_capture_window_is_never_committed_torn() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, dir) = (repo_in(tmp.path()), tmp.path().join("chroma"));
    ch::make(&dir, 3_000, 4);
    let during = |attempts: &str, go: &Path| {
        let mut c = cairn(&repo);
        c.args(["backup", "--json", "--chroma-attempts", attempts]).arg(spec(&dir));
        c.env("CAIRN_PAUSE", format!("chroma-after-sqlite:{}", go.display()));
        let child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        wait_for(&PathBuf::from(format!("{}.waiting", go.display())));
        ch::change(&dir, 1_000, 0, 0, 5); // 1,000 adds: Chroma persists its HNSW files
        fs::write(go, b"").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = during("3", &tmp.path().join("go1"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["vector_stores"][0]["attempts"], 2, "{v}");
    assert_eq!(v["vector_stores"][0]["items"], 4_000);
    let restored = tmp.path().join("r");
    restore_to(&repo, "latest", &restored);
    assert_eq!(ch::ids(&restored)["count"], 4_000);

    let snaps_before = snapshots(&repo).len();
    let out = during("1", &tmp.path().join("go2"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    one_line(&err);
    assert!(err.contains("kept changing") && err.contains(&dir.display().to_string()), "{err}");
    assert_eq!(snapshots(&repo).len(), snaps_before, "a torn snapshot was committed");
}

/// A flipped byte in a pack: the restore over the live directory fails
/// verification and the live directory is byte-identical afterwards.
#[test]
fn damaged_pack_leaves_the_live_directory_untouched() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, dir) = (repo_in(tmp.path()), tmp.path().join("chroma"));
    ch::make(&dir, 2_000, 6);
    backup_chroma(&repo, &dir, &[]);
    ch::change(&dir, 1_000, 0, 0, 7);
    let live = digest(&dir);
    let packs = packs_largest_first(&repo);
    let mut bytes = fs::read(&packs[0]).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    fs::write(&packs[0], bytes).unwrap();
    let (code, err) = fails(cairn(&repo).args(["restore", "latest", "--overwrite", "--chroma-target"]).arg(&dir));
    one_line(&err);
    assert_eq!(code, 3, "{err}");
    assert_eq!(digest(&dir), live, "the live directory changed");
    // check --read-data names the damaged chunk by the Chroma file using it.
    let (code, paths) = damaged_paths(&repo);
    assert_eq!(code, Some(3));
    assert!(!paths.is_empty() && paths.iter().all(|p| p.contains("chroma/")), "{paths:?}");
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("cairn-"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

/// Restore over a live directory with --overwrite swaps the verified copy
/// in; without it the target is refused.
#[test]
fn restore_over_an_existing_directory() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, dir) = (repo_in(tmp.path()), tmp.path().join("chroma"));
    ch::make(&dir, 1_500, 8);
    backup_chroma(&repo, &dir, &[]);
    let want = digest(&dir);
    ch::change(&dir, 1_000, 100, 100, 9);
    let (_, err) = fails(cairn(&repo).args(["restore", "latest", "--chroma-target"]).arg(&dir));
    one_line(&err);
    assert!(err.contains("already exists"), "{err}");
    ok(cairn(&repo).args(["restore", "latest", "--overwrite", "--chroma-target"]).arg(&dir));
    assert_eq!(digest(&dir), want);
    assert_eq!(ch::ids(&dir)["count"], 1_500);
}

/// Bytes of 4 KiB blocks of `after`'s files that no file of `before` has:
/// what fixed-block chunking would store for the change.
fn new_block_bytes(before: &Path, after: &Path) -> u64 {
    let blocks = |dir: &Path| -> Vec<(blake3::Hash, usize)> {
        let mut v = Vec::new();
        for e in walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
            let data = fs::read(e.path()).unwrap();
            v.extend(data.chunks(4096).map(|b| (blake3::hash(b), b.len())));
        }
        v
    };
    let old: std::collections::HashSet<blake3::Hash> = blocks(before).into_iter().map(|b| b.0).collect();
    let mut seen = std::collections::HashSet::new();
    blocks(after).into_iter().filter(|b| !old.contains(&b.0) && seen.insert(b.0)).map(|b| b.1 as u64).sum()
}

fn dir_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// 1,000 items added to 50,000 and a persist: the repository (data, index,
/// manifests and lists) grows by at most a quarter of what 4 KiB blocks add
/// (format-spec/chroma.md#chunking has the measurements).
#[test]
fn a_persist_costs_about_the_changed_links() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    ok(cairn(&repo).args(["init", "--no-encryption"]));
    let (dir, before) = (tmp.path().join("chroma"), tmp.path().join("before"));
    ch::make(&dir, 50_000, 11);
    copy_tree(&dir, &before);
    backup_chroma(&repo, &dir, &[]);
    let size1 = dir_bytes(&repo);
    ch::change(&dir, 1_000, 0, 0, 12);
    backup_chroma(&repo, &dir, &[]);
    let growth = dir_bytes(&repo) - size1;
    let blocks = new_block_bytes(&before, &dir);
    eprintln!("repository growth {growth} bytes; 4 KiB blocks would add {blocks}");
    assert!(blocks > 10_000_000, "the change touched only {blocks} bytes of blocks: no persist happened?");
    assert!(growth * 4 <= blocks, "grew by {growth} bytes, more than a quarter of {blocks}");
}

fn segment_dir(dir: &Path) -> PathBuf {
    fs::read_dir(dir).unwrap().filter_map(Result::ok).map(|e| e.path()).find(|p| p.is_dir()).expect("a segment dir")
}

/// Each bad directory gets one line naming the file, a non-zero exit, and
/// leaves the repository and the directory as they were.
#[test]
fn bad_directories_are_refused_with_one_line() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo_in(tmp.path());
    let good = tmp.path().join("good");
    ch::make(&good, 1_200, 13); // past the first persist (1,000 changes)
    let case = |name: &str, spoil: &dyn Fn(&Path), want: &str| {
        let dir = tmp.path().join(name);
        copy_tree(&good, &dir);
        spoil(&dir);
        let (repo_before, dir_before) = (digest(&repo), digest(&dir));
        let (code, err) = fails(cairn(&repo).arg("backup").arg(spec(&dir)));
        one_line(&err);
        assert!(code != 0 && err.contains(want), "{name}: exit {code}: {err}");
        assert_eq!(digest(&repo), repo_before, "{name}: the repository changed");
        assert_eq!(digest(&dir), dir_before, "{name}: the directory changed");
    };
    case(
        "empty",
        &|d| fs::remove_dir_all(d).and_then(|_| fs::create_dir(d)).unwrap(),
        "not a Chroma persist directory",
    );
    case(
        "plain-sqlite",
        &|d| {
            fs::remove_file(d.join("chroma.sqlite3")).unwrap();
            rusqlite::Connection::open(d.join("chroma.sqlite3")).unwrap().execute_batch("CREATE TABLE t(x)").unwrap();
        },
        "not a Chroma persist directory",
    );
    case("no-length", &|d| fs::remove_file(segment_dir(d).join("length.bin")).unwrap(), "length.bin");
    case("no-segment", &|d| fs::remove_dir_all(segment_dir(d)).unwrap(), "lacks the directory");
    case(
        "truncated",
        &|d| {
            let p = segment_dir(d).join("data_level0.bin");
            let len = fs::metadata(&p).unwrap().len();
            fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(len - 1000).unwrap();
        },
        "truncated",
    );
    case(
        "fifo",
        &|d| {
            let p = segment_dir(d).join("stray");
            let c = std::ffi::CString::new(p.to_string_lossy().as_bytes()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        },
        "neither a file nor a directory",
    );
    let (code, err) = fails(cairn(&repo).args(["backup", "--chroma-attempts", "0"]).arg(spec(&good)));
    one_line(&err);
    assert!(code != 0 && err.contains("--chroma-attempts"), "{err}");
}

/// A header that does not parse: the file is stored as 4 KiB blocks, the
/// snapshot and `ls` say so, and it restores byte-exact.
#[test]
fn unparsable_header_falls_back_to_blocks() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, dir) = (repo_in(tmp.path()), tmp.path().join("chroma"));
    ch::make(&dir, 1_200, 14);
    let header = segment_dir(&dir).join("header.bin");
    let mut h = fs::read(&header).unwrap();
    h[0] = 9; // an hnswlib header version no one knows
    fs::write(&header, h).unwrap();
    let out = run(cairn(&repo).args(["backup", "--json"]).arg(spec(&dir)));
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stored as 4 KiB blocks") && err.contains("version 9"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layouts = v["vector_stores"][0]["layouts"].as_array().unwrap();
    let level0 = |l: &&serde_json::Value| l["path"].as_str().unwrap().ends_with("data_level0.bin");
    assert!(layouts.iter().filter(level0).all(|l| l["chunking"] == "4k-blocks"), "{layouts:?}");
    let ls = ok(cairn(&repo).args(["ls", "latest"]));
    assert!(ls.lines().any(|l| l.contains("4k-blocks") && l.contains("data_level0.bin")), "{ls}");
    let want = digest(&dir);
    let out = ok(cairn(&repo).args(["restore", "latest", "--chroma-target"]).arg(tmp.path().join("r")));
    assert!(out.contains("HNSW header not checked"), "{out}");
    assert_eq!(digest(&tmp.path().join("r")), want);
}

/// Chroma mixed with files and a SQLite database on one command line; a
/// whole-snapshot restore brings each back, and `ls` lists the Chroma parts.
#[test]
fn mixed_with_files_and_sqlite() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, dir) = (repo_in(tmp.path()), tmp.path().join("chroma"));
    ch::make(&dir, 500, 15);
    let files = tmp.path().join("scripts");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("ep1.txt"), b"INT. OFFICE - NIGHT").unwrap();
    let db = tmp.path().join("app.db");
    common::appdb::make_app_db(&db, 200);
    let want = digest(&dir);
    ok(cairn(&repo).arg("backup").arg(&files).arg(format!("sqlite:{}", db.display())).arg(spec(&dir)));
    let out = tmp.path().join("out");
    let json = ok(cairn(&repo).args(["restore", "latest", "--json", "--target"]).arg(&out));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["vector_stores"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["databases"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(digest(&out.join("chroma")), want);
    assert_eq!(fs::read(out.join("scripts/ep1.txt")).unwrap(), b"INT. OFFICE - NIGHT");
    assert_eq!(common::appdb::query_i64(&out.join("app.db"), "SELECT count(*) FROM episodes"), 200);
    let ls = ok(cairn(&repo).args(["ls", "latest", "--json"]));
    let parts: Vec<serde_json::Value> = ls
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "part")
        .collect();
    assert!(parts.iter().any(|p| p["path"] == "/chroma/chroma.sqlite3" && p["chunking"] == "sqlite-pages"), "{ls}");
    assert!(parts.iter().any(|p| p["chunking"] == "hnsw-records" && p["stored"].as_u64().unwrap() > 0), "{ls}");
    ok(cairn(&repo).args(["check", "--read-data"]));
    let backup = ok(cairn(&repo).args(["backup", "--json"]).arg(spec(&dir)));
    let one = ok(cairn(&repo).args(["restore", "latest", "--json", "--chroma-target"]).arg(tmp.path().join("one")));
    let (seen, missing) = undocumented_json_keys(&[backup, json, one, ls]);
    assert!(seen > 30 && missing.is_empty(), "printed but not in the README's JSON section: {missing:?}");
}

/// A repository of format 3 refuses a Chroma source with one line (older
/// cairn builds could not read the node); nothing is written.
#[test]
fn format_3_repository_refuses_chroma() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-v3-xaes/repo"), &repo);
    let dir = tmp.path().join("chroma");
    ch::make(&dir, 100, 16);
    let before = digest(&repo);
    let (code, err) = fails(cairn(&repo).env("CAIRN_PASSWORD", "golden password").arg("backup").arg(spec(&dir)));
    one_line(&err);
    assert!(code != 0 && err.contains("format 3") && err.contains("format 4"), "{err}");
    assert_eq!(digest(&repo), before);
}

/// Two collections (two vector segments) in one directory: both counted in
/// the snapshot, both restored and queryable.
#[test]
fn two_collections_in_one_directory() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, dir) = (repo_in(tmp.path()), tmp.path().join("chroma"));
    ch::make(&dir, 1_200, 17);
    ch::run_on("notes", &["make", &dir.to_string_lossy(), "1100", "18"]);
    let want = digest(&dir);
    let v = backup_chroma(&repo, &dir, &[]);
    assert_eq!((&v["vector_stores"][0]["collections"], &v["vector_stores"][0]["items"]), (&2.into(), &2300.into()));
    let hnsw = v["vector_stores"][0]["layouts"].as_array().unwrap().iter().filter(|l| l["chunking"] == "hnsw-records");
    assert_eq!(hnsw.count(), 2, "{v}");
    let out = tmp.path().join("out");
    restore_to(&repo, "latest", &out);
    assert_eq!(digest(&out), want);
    let count = |c: &str| {
        serde_json::from_str::<serde_json::Value>(&ch::run_on(c, &["ids", &out.to_string_lossy()])).unwrap()["count"]
            .clone()
    };
    assert_eq!((count("scripts"), count("notes")), (1200.into(), 1100.into()));
}

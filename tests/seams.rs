//! The library's seams, used as a library caller would: one restore entry
//! point for every node kind, file chunks read by pack (a counting backend
//! wrapper bounds the range requests), and dictionaries that follow the
//! commit protocol (undone with a failed backup, collected by prune).

mod common;
use cairn::backend::memory::MemoryBackend;
use cairn::backend::{BResult, Backend, ObjectInfo};
use cairn::ops::backup::{backup, BackupOptions};
use cairn::ops::restore::{restore, RestoreOptions};
use cairn::source::SourceSpec;
use cairn::Repository;
use common::appdb::{make_app_db, query_i64};
use common::*;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn config(pack_size: u32) -> cairn::repo::config::Config {
    let chunker = cairn::chunker::ChunkerParams { min: 4096, avg: 16384, max: 65536 };
    cairn::repo::config::Config::new(chunker, 3, pack_size).unwrap()
}

fn sqlite(db: &Path) -> SourceSpec {
    SourceSpec::parse(format!("sqlite:{}", db.display()).as_ref())
}

/// Counts range reads and the bytes they return.
struct Counting {
    inner: Arc<dyn Backend>,
    ranges: AtomicU64,
    bytes: AtomicU64,
}

impl Backend for Counting {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()> {
        self.inner.put(key, data)
    }
    fn put_new(&self, key: &str, data: &[u8]) -> BResult<bool> {
        self.inner.put_new(key, data)
    }
    fn get(&self, key: &str) -> BResult<Vec<u8>> {
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
        self.ranges.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len, Ordering::Relaxed);
        self.inner.get_range(key, offset, len)
    }
    fn list(&self, prefix: &str) -> BResult<Vec<ObjectInfo>> {
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> BResult<()> {
        self.inner.delete(key)
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}

/// Files and a SQLite database in one snapshot, restored through
/// `ops::restore::restore` alone: both come back, the database verified.
#[test]
fn one_restore_call_restores_files_and_databases() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, db) = (tmp.path().join("data"), tmp.path().join("app.db"));
    cairn::sample::generate(&data, 2, 9).unwrap();
    make_app_db(&db, 3000);
    let mem: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let repo = Repository::init(mem.clone(), config(1 << 20), None).unwrap();
    let opts = BackupOptions { sources: vec![SourceSpec::path(&data), sqlite(&db)], ..Default::default() };
    let r = backup(&repo, &opts).unwrap();
    assert_eq!(r.reports.len(), 1, "the database reports its capture");
    let repo = Repository::open(mem, None).unwrap();
    let target = tmp.path().join("out");
    let done = restore(&repo, &r.snapshot, &RestoreOptions { target: target.clone(), ..Default::default() }).unwrap();
    cairn::sample::compare_trees(&data, &target.join("data")).unwrap();
    assert_eq!(done.reports.len(), 1, "the database was restored and reported");
    let checks = done.reports[0].json["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c.as_str().unwrap().contains("integrity_check ok")), "{checks:?}");
    assert_eq!(query_i64(&target.join("app.db"), "SELECT count(*) FROM episodes"), 3000);
}

/// File restore reads by pack: at most one range request per pack
/// touched (ranges stop at 16 MiB, packs here are 256 KiB), where reading
/// chunk by chunk made one per chunk.
#[test]
fn file_restore_reads_pack_by_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    cairn::sample::generate(&data, 8, 3).unwrap();
    let mem: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let repo = Repository::init(mem.clone(), config(256 << 10), None).unwrap();
    let r = backup(&repo, &BackupOptions { sources: vec![SourceSpec::path(&data)], ..Default::default() }).unwrap();
    let packs = mem.list("data/").unwrap().len() as u64;
    let counting = Arc::new(Counting { inner: mem, ranges: AtomicU64::new(0), bytes: AtomicU64::new(0) });
    let repo = Repository::open(counting.clone(), None).unwrap();
    let before = counting.ranges.load(Ordering::Relaxed);
    let target = tmp.path().join("out");
    let done = restore(&repo, &r.snapshot, &RestoreOptions { target: target.clone(), ..Default::default() }).unwrap();
    cairn::sample::compare_trees(&data, &target.join("data")).unwrap();
    let ranges = counting.ranges.load(Ordering::Relaxed) - before;
    let chunks = r.written.blobs_new;
    eprintln!("restore of {} files, {chunks} blobs in {packs} packs: {ranges} range reads", done.stats.files);
    assert_eq!(done.stats.range_reads, ranges - trees_read(&repo, &r.snapshot), "the reported count is the real one");
    assert!(ranges <= packs + trees_read(&repo, &r.snapshot), "{ranges} range reads for {packs} packs");
    assert!(ranges * 10 < chunks, "{ranges} range reads for {chunks} chunks: not read by pack");
}

/// Reads the restore plan makes before the data (one per tree blob).
fn trees_read(repo: &Repository, snap: &cairn::format::snapshot::Snapshot) -> u64 {
    let mut n = 0;
    cairn::source::reach::entries(&mut |id| repo.read_blob(id), &snap.tree, &mut |_, node| {
        n += node.subtree.len() as u64;
        Ok(())
    })
    .unwrap();
    n + snap.tree.len() as u64
}

/// A backup that fails after storing its new dictionary removes it again,
/// like its packs; the repository is exactly as before.
#[test]
fn a_failed_backup_leaves_no_dictionary() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("app.db");
    make_app_db(&db, 12_000);
    let mem: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    // Format 4: its pages are compressed with a dictionary (format 5 frames them).
    Repository::init(mem.clone(), config(1 << 20).with_version(4).unwrap(), None).unwrap();
    let keys = |b: &dyn Backend| b.list("").unwrap();
    let before = keys(&*mem);
    // The dictionary is the first object a backup of this database writes.
    let full = Arc::new(FullDisk { inner: mem.clone(), puts_before_failure: 1, puts: Default::default() });
    let repo = Repository::open(full.clone(), None).unwrap();
    let err = backup(&repo, &BackupOptions { sources: vec![sqlite(&db)], ..Default::default() }).unwrap_err();
    assert!(matches!(err, cairn::Error::DiskFull { .. }), "{err}");
    assert!(full.puts.load(Ordering::SeqCst) >= 2, "the dictionary was not written before the failure");
    assert_eq!(keys(&*mem), before, "the failed backup left something behind");
}

/// Prune marks a dictionary no snapshot uses and deletes it once the grace
/// has passed; a dictionary in use stays.
#[test]
fn prune_collects_unused_dictionaries() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, db, data) = (tmp.path().join("repo"), tmp.path().join("app.db"), tmp.path().join("data"));
    // Format 4: dictionaries (format 5 frames pages instead).
    ok(cairn(&repo).args(["init", "--repository-version", "4"]).args(common::SMALL_CHUNKS).args(common::FAST_KDF));
    make_app_db(&db, 12_000);
    ok(cairn(&repo).args(["backup", "--time", "2026-01-01T00:00:00Z"]).arg(format!("sqlite:{}", db.display())));
    state(&data, 1);
    ok(cairn(&repo).args(["backup", "--time", "2026-01-02T00:00:00Z"]).arg(&data));
    let dicts = || std::fs::read_dir(repo.join("dictionaries")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(dicts(), 1);
    // In use: prune keeps it.
    ok(cairn(&repo).args(["prune", "--grace", "0s"]));
    assert_eq!(dicts(), 1);
    ok(cairn(&repo).args(["forget", "--group-by", "", "--keep-last", "1"]));
    let v: serde_json::Value = serde_json::from_str(ok(cairn(&repo).args(["prune", "--json"])).trim()).unwrap();
    assert_eq!(v["plan"]["dictionaries_unused"], 1, "{v}");
    assert_eq!(dicts(), 1, "the default grace only marks it");
    let v: serde_json::Value =
        serde_json::from_str(ok(cairn(&repo).args(["prune", "--grace", "0s", "--json"])).trim()).unwrap();
    assert_eq!(v["result"]["dictionaries_deleted"], 1, "{v}");
    assert_eq!(dicts(), 0);
    ok(cairn(&repo).args(["check", "--read-data"]));
    restores_as(&repo, "latest", 1, tmp.path());
}

/// Chunks shared by more files than restore keeps open at once: every file
/// still comes back whole (the writes past the bound open and close).
#[test]
fn restore_of_many_files_sharing_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("src"));
    std::fs::create_dir_all(&src).unwrap();
    let mut x = 7u64;
    let body: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    for i in 0..600 {
        let mut b = body.clone();
        b.extend_from_slice(format!("file {i}").as_bytes()); // its own last chunk
        std::fs::write(src.join(format!("f{i:03}")), b).unwrap();
    }
    init_small(&repo);
    common::backup(&repo, &[&src]);
    restore_and_compare(&repo, "latest", &src, &tmp.path().join("r"));
}

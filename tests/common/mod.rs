//! Test helpers: run the real binary, temporary repositories, tree digests,
//! and wrapper backends (fault-injecting) around the in-memory one.
#![allow(dead_code)]

pub mod appdb;
pub mod chroma;
pub mod crash_backend;
pub mod garage;
pub mod http;
pub mod livestack;
pub mod load;
pub mod peers;
pub mod redis;

use cairn::backend::{BResult, Backend, BackendError, ObjectInfo};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Small chunks so small test trees still have many chunks and packs.
pub const SMALL_CHUNKS: [&str; 8] =
    ["--chunk-min", "4096", "--chunk-avg", "16384", "--chunk-max", "65536", "--pack-size", "262144"];
/// A cheap Argon2id for tests (the default takes about half a second per unlock).
pub const FAST_KDF: [&str; 4] = ["--kdf-memory-kib", "64", "--kdf-iterations", "1"];
/// The password every test repository is created with.
pub const PASSWORD: &str = "correct horse battery staple";

pub fn cairn(repo: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.arg("--repo").arg(repo).env_remove("CAIRN_REPOSITORY").env_remove("CAIRN_FAILPOINT");
    c.env("CAIRN_PASSWORD", PASSWORD).env_remove("CAIRN_PASSWORD_FILE").env_remove("CAIRN_NEW_PASSWORD");
    c
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn cairn")
}

/// Run and require success; returns stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "command failed: {:?}\nstdout: {}\nstderr: {}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Run and require failure; returns stderr.
pub fn fails(cmd: &mut Command) -> (i32, String) {
    let out = run(cmd);
    assert!(!out.status.success(), "command unexpectedly succeeded: {cmd:?}");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A command-line error (exit 2): `error: ...` and at most two lines
/// more (what is missing, clap's tip, `(see --help)`).
pub fn few_lines(err: &str) {
    assert!(err.trim().lines().count() <= 3, "expected a few lines: {err}");
    assert!(err.starts_with("error: "), "{err}");
}

/// An error report is exactly one line, `error: ...`.
pub fn one_line(err: &str) {
    assert_eq!(err.trim().lines().count(), 1, "expected one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
}

/// An encrypted repository (the default) with small chunks and a cheap KDF.
pub fn init_small(repo: &Path) {
    ok(cairn(repo).arg("init").args(SMALL_CHUNKS).args(FAST_KDF));
}

/// Back up `paths` and return the new snapshot id.
pub fn backup(repo: &Path, paths: &[&Path]) -> String {
    let out = ok(cairn(repo).arg("backup").arg("--json").args(paths));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v["snapshot_id"].as_str().unwrap().to_string()
}

pub fn backup_json(repo: &Path, paths: &[&Path]) -> serde_json::Value {
    serde_json::from_str(ok(cairn(repo).arg("backup").arg("--json").args(paths)).trim()).unwrap()
}

/// Restore `snap` into a fresh directory under `scratch` and compare it with `original`.
pub fn restore_and_compare(repo: &Path, snap: &str, original: &Path, scratch: &Path) {
    let target = scratch.join(format!("restore-{snap}-{}", rand_suffix()));
    ok(cairn(repo).args(["restore", snap, "--target"]).arg(&target));
    let name = original.file_name().unwrap();
    cairn::sample::compare_trees(original, &target.join(name)).unwrap_or_else(|e| panic!("snapshot {snap}: {e}"));
}

pub fn rand_suffix() -> String {
    cairn::Id::random().short()
}

/// Every file under `dir` with its size and BLAKE3: a fingerprint that shows
/// whether anything in a repository changed.
pub fn digest(dir: &Path) -> BTreeMap<PathBuf, (u64, String)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let data = std::fs::read(e.path()).unwrap();
            (
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                (data.len() as u64, blake3::hash(&data).to_hex().to_string()),
            )
        })
        .collect()
}

/// Copy a tree, keeping modes, mtimes and symlinks.
pub fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(st.success());
}

/// Wraps a backend and fails every put after the first `puts_before_failure`
/// with ENOSPC, as a full disk would.
pub struct FullDisk {
    pub inner: std::sync::Arc<dyn Backend>,
    pub puts_before_failure: usize,
    pub puts: AtomicUsize,
}

impl Backend for FullDisk {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()> {
        if self.puts.fetch_add(1, Ordering::SeqCst) >= self.puts_before_failure {
            return Err(BackendError::Io { key: key.into(), source: std::io::Error::from_raw_os_error(libc::ENOSPC) });
        }
        self.inner.put(key, data)
    }
    fn put_new(&self, key: &str, data: &[u8]) -> BResult<bool> {
        self.inner.put_new(key, data)
    }
    fn get(&self, key: &str) -> BResult<Vec<u8>> {
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
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

/// The data set at hour `h`: 30 files of which one changes every hour and
/// a new one appears every day; deterministic, so any hour can be rebuilt.
pub fn state(dir: &Path, h: u64) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    for f in 0..30u64 {
        // File f was last rewritten at the latest hour ≤ h with hour % 30 == f.
        let version = if h >= f { h - (h - f) % 30 } else { 0 };
        let mut rng = cairn::sample::Rng::new(f * 1_000_003 + version);
        let mut data = vec![0u8; 20_000 + (f as usize % 7) * 3000];
        rng.fill(&mut data);
        fs::write(dir.join(format!("file-{f:02}")), &data).unwrap();
    }
    for d in 0..=h / 24 {
        fs::write(dir.join(format!("day-{d:03}.txt")), format!("day {d}\n").repeat(500)).unwrap();
    }
    let t = filetime::FileTime::from_unix_time(1_700_000_000, 0);
    for e in fs::read_dir(dir).unwrap() {
        filetime::set_file_mtime(e.unwrap().path(), t).unwrap();
    }
}

pub fn snapshots(repo: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(&ok(cairn(repo).args(["snapshots", "--json"])))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Restore snapshot `id` and compare it with the state of hour `h`.
pub fn restores_as(repo: &Path, id: &str, h: u64, scratch: &Path) {
    let expect = scratch.join(format!("expect-{h}"));
    state(&expect, h);
    let out = scratch.join(format!("out-{h}-{}", rand_suffix()));
    ok(cairn(repo).args(["restore", id, "--target"]).arg(&out));
    assert_eq!(digest(&out.join("data")), digest(&expect), "snapshot of hour {h} differs");
    fs::remove_dir_all(&out).unwrap();
    fs::remove_dir_all(&expect).unwrap();
}

pub fn wait_for(p: &Path) {
    let start = std::time::Instant::now();
    while !p.exists() {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "{} never appeared", p.display());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A small repository with one forgotten snapshot whose data nothing else uses.
pub fn with_garbage(tmp: &Path) -> (PathBuf, PathBuf, u64) {
    let (repo, data) = (tmp.join("repo"), tmp.join("data"));
    init_small(&repo);
    state(&data, 5);
    ok(cairn(&repo).args(["backup", "--time", "2026-01-01T00:00:00Z"]).arg(&data));
    let first = snapshots(&repo)[0]["id"].as_str().unwrap().to_string();
    state(&data, 100); // every file different
    ok(cairn(&repo).args(["backup", "--time", "2026-01-02T00:00:00Z"]).arg(&data));
    ok(cairn(&repo).args(["forget", "--keep-last", "1"]));
    assert!(!snapshots(&repo).iter().any(|s| s["id"] == first.as_str()));
    (repo, data, 100)
}

/// Keys (recursively) of the JSON lines in `outputs`, and those of them the
/// README's "JSON output" section does not name as a word.
pub fn undocumented_json_keys(outputs: &[String]) -> (usize, Vec<String>) {
    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let schema = &readme[readme.find("### JSON output").unwrap()..readme.find("## Guarantees").unwrap()];
    let mut all = Vec::new();
    for out in outputs {
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            keys(&serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")), &mut all);
        }
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let named = |k: &str| {
        schema.match_indices(k).any(|(i, _)| !schema[..i].ends_with(word) && !schema[i + k.len()..].starts_with(word))
    };
    let seen = all.len();
    all.retain(|k| !named(k));
    all.sort();
    all.dedup();
    (seen, all)
}

/// The paths `check --read-data --json` says use damaged blobs, with its
/// exit code.
pub fn damaged_paths(repo: &Path) -> (Option<i32>, Vec<String>) {
    let out = run(cairn(repo).args(["check", "--read-data", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths = v["damaged_blobs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["used_by"].as_array().unwrap().iter().flat_map(|u| u["paths"].as_array().unwrap().clone()))
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    (out.status.code(), paths)
}

/// The repository's pack files, largest first.
pub fn packs_largest_first(repo: &Path) -> Vec<PathBuf> {
    let mut packs: Vec<PathBuf> = walkdir::WalkDir::new(repo.join("data"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    packs.sort_by_key(|p| std::cmp::Reverse(fs::metadata(p).unwrap().len()));
    packs
}

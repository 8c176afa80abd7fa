//! Bad input: each case gets a one-line error saying what to do, a non-zero
//! exit, and leaves the repository exactly as it was.

mod common;
use cairn::backend::memory::MemoryBackend;
use cairn::backend::Backend;
use common::*;
use std::fs;
use std::sync::Arc;

fn populated() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 2, 4).unwrap();
    init_small(&repo);
    let snap = backup(&repo, &[&src]);
    (tmp, repo, src, snap)
}

#[test]
fn not_a_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = fails(cairn(tmp.path()).arg("snapshots"));
    one_line(&err);
    assert!(err.contains("not a cairn repository") && err.contains("cairn init"), "{err}");
    assert_eq!(code, 10);
    assert!(fs::read_dir(tmp.path()).unwrap().next().is_none(), "nothing may be created");
    let (_, err) = fails(cairn(tmp.path()).args(["backup", "/etc/hostname"]));
    one_line(&err);
}

#[test]
fn init_refuses_a_used_directory() {
    let (_tmp, repo, _, _) = populated();
    let before = digest(&repo);
    let (_, err) = fails(cairn(&repo).arg("init"));
    one_line(&err);
    assert!(err.contains("already holds files"), "{err}");
    assert_eq!(digest(&repo), before);
}

#[test]
fn newer_format_version() {
    let (_tmp, repo, _, _) = populated();
    let mut cfg = fs::read(repo.join("config")).unwrap();
    cfg[8] = cairn::format::REPO_VERSION as u8 + 1; // version field, little endian, right after the magic
    fs::write(repo.join("config"), &cfg).unwrap();
    let before = digest(&repo);
    let (_, err) = fails(cairn(&repo).arg("snapshots"));
    one_line(&err);
    assert!(err.contains("newer") && err.contains("upgrade cairn"), "{err}");
    let (_, err) = fails(cairn(&repo).args(["backup", "/etc/hostname"]));
    one_line(&err);
    assert_eq!(digest(&repo), before);
}

#[test]
fn unknown_and_ambiguous_snapshot_ids() {
    let (tmp, repo, src, _) = populated();
    for _ in 0..40 {
        backup(&repo, &[&src]);
    }
    let before = digest(&repo);
    let (_, err) = fails(cairn(&repo).args(["restore", "deadbeef00", "--target"]).arg(tmp.path().join("t")));
    one_line(&err);
    assert!(err.contains("no snapshot matches"), "{err}");
    // With 41 snapshots, some one-digit prefix is shared by two of them.
    let ids: Vec<String> = digest(&repo)
        .keys()
        .filter_map(|p| p.strip_prefix("snapshots").ok())
        .map(|p| p.display().to_string())
        .collect();
    let prefix = (0..16)
        .map(|d| format!("{d:x}"))
        .find(|p| ids.iter().filter(|i| i.starts_with(p.as_str())).count() > 1)
        .unwrap();
    let (_, err) = fails(cairn(&repo).args(["ls", &prefix]));
    one_line(&err);
    assert!(err.contains("ambiguous"), "{err}");
    assert!(!tmp.path().join("t").exists());
    assert_eq!(digest(&repo), before);
}

#[test]
fn unreadable_source_file() {
    let (_tmp, repo, src, _) = populated();
    let before = digest(&repo);
    // /proc/self/mem fails to read at offset 0 with EIO, even for root.
    let (_, err) = fails(cairn(&repo).arg("backup").arg(&src).arg("/proc/self/mem"));
    one_line(&err);
    assert!(
        err.contains("cannot read source") && err.contains("/proc/self/mem") && err.contains("no snapshot was written"),
        "{err}"
    );
    assert_eq!(digest(&repo), before, "a failed backup must leave no pack behind");
    let (_, err) = fails(cairn(&repo).arg("backup").arg(src.join("does-not-exist")));
    one_line(&err);
    assert_eq!(digest(&repo), before);
}

#[test]
fn non_empty_restore_target() {
    let (tmp, repo, src, snap) = populated();
    let target = tmp.path().join("busy");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep.txt"), "mine").unwrap();
    let (_, err) = fails(cairn(&repo).args(["restore", &snap, "--target"]).arg(&target));
    one_line(&err);
    assert!(err.contains("not empty") && err.contains("--overwrite"), "{err}");
    assert_eq!(fs::read_dir(&target).unwrap().count(), 1);
    ok(cairn(&repo).args(["restore", &snap, "--overwrite", "--target"]).arg(&target));
    assert_eq!(fs::read(target.join("keep.txt")).unwrap(), b"mine");
    cairn::sample::compare_trees(&src, &target.join("data")).unwrap();
}

#[test]
fn full_disk_leaves_repository_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("data");
    cairn::sample::generate(&src, 8, 6).unwrap();
    let fresh = tmp.path().join("fresh");
    cairn::sample::generate(&fresh, 4, 8).unwrap();
    for fail_after in [0usize, 2, 5] {
        let mem: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
        let cfg = cairn::repo::config::Config::new(
            cairn::chunker::ChunkerParams { min: 4096, avg: 16384, max: 65536 },
            3,
            256 << 10,
        )
        .unwrap();
        let backend = mem;
        let repo = cairn::Repository::init(backend.clone(), cfg, None).unwrap();
        let opts = cairn::ops::backup::BackupOptions {
            sources: vec![cairn::source::SourceSpec::path(&src)],
            ..Default::default()
        };
        cairn::ops::backup::backup(&repo, &opts).unwrap();
        let keys = |b: &dyn Backend| b.list("").unwrap();
        let before = keys(&*backend);
        let full = Arc::new(FullDisk { inner: backend, puts_before_failure: fail_after, puts: Default::default() });
        let repo = cairn::Repository::open(full.clone(), None).unwrap();
        let force = cairn::ops::backup::BackupOptions {
            capture: cairn::source::CaptureOptions { force: true, ..Default::default() },
            sources: vec![cairn::source::SourceSpec::path(&src), cairn::source::SourceSpec::path(&fresh)],
            ..Default::default()
        };
        let err = cairn::ops::backup::backup(&repo, &force).unwrap_err();
        assert!(matches!(err, cairn::Error::DiskFull { .. }), "{err}");
        assert!(err.to_string().contains("free space"), "{err}");
        assert_eq!(keys(&*full), before, "fail after {fail_after} puts: repository changed");
    }
}

#[test]
fn file_changing_while_read_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    fs::create_dir(&src).unwrap();
    let live = src.join("live.log");
    fs::write(&live, vec![1u8; 64 << 20]).unwrap();
    init_small(&repo);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, live) = (stop.clone(), live.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = fs::OpenOptions::new().append(true).open(&live).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(b"tick\n").unwrap();
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        })
    };
    let out = run(cairn(&repo).args(["backup", "--json"]).arg(&src));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning:") && stderr.contains("changed while it was read"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let snap = v["snapshot_id"].as_str().unwrap();
    // The snapshot holds a consistent file: exactly the bytes its chunks say.
    let target = tmp.path().join("r");
    ok(cairn(&repo).args(["restore", snap, "--target"]).arg(&target));
    let restored = fs::read(target.join("data/live.log")).unwrap();
    assert!(restored.len() >= 64 << 20);
    assert!(restored[..64 << 20].iter().all(|&b| b == 1));
    assert!(restored[64 << 20..].chunks(5).all(|c| b"tick\n".starts_with(c)));
    let tree: serde_json::Value =
        serde_json::from_str(&ok(cairn(&repo).args(["ls", "--json", snap, "data/live.log"]))).unwrap();
    assert_eq!(tree["size"].as_u64().unwrap(), restored.len() as u64);
}

/// `--keep-last 0` (any explicit --keep-*) is the whole policy: one that
/// keeps nothing is refused, never replaced by the default policy.
#[test]
fn explicit_zero_keep_is_refused_not_defaulted() {
    let (_tmp, repo, src, _) = populated();
    backup(&repo, &[&src]);
    let before = digest(&repo);
    for args in [vec!["forget", "--keep-last", "0"], vec!["forget", "--keep-daily", "0", "--keep-hourly", "0"]] {
        let (_, err) = fails(cairn(&repo).args(&args));
        one_line(&err);
        assert!(err.contains("keeps nothing"), "{args:?}: {err}");
        assert_eq!(digest(&repo), before, "{args:?} removed snapshots");
    }
}

/// A flag wins over the environment: --password-file over CAIRN_PASSWORD,
/// and a missing file named by the flag is an error, not a fallback.
#[test]
fn password_file_flag_wins_over_the_environment() {
    let (tmp, repo, _, _) = populated();
    let good = tmp.path().join("pw");
    fs::write(&good, format!("{PASSWORD}\n")).unwrap();
    ok(cairn(&repo).env("CAIRN_PASSWORD", "wrong").arg("--password-file").arg(&good).arg("snapshots"));
    let missing = tmp.path().join("no-such-file");
    let (code, err) = fails(cairn(&repo).arg("--password-file").arg(&missing).arg("snapshots"));
    one_line(&err);
    assert_ne!(code, 0);
    assert!(err.contains("--password-file") && err.contains("no-such-file"), "{err}");
    // The environment file variable still works when no flag is given.
    ok(cairn(&repo).env_remove("CAIRN_PASSWORD").env("CAIRN_PASSWORD_FILE", &good).arg("snapshots"));
}

/// Locations that name remote storage are refused until a backend for
/// them exists; nothing is created (no local directory called `s3:host`).
#[test]
fn remote_repository_locations_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for loc in ["s3:host/bucket", "sftp:user@host:/srv/repo", "rest:http://host:8000/", "gs://bucket/x", "azure:c:/p"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(tmp.path())
            .args(["init", "--repo", loc])
            .env("CAIRN_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{loc} accepted");
        one_line(&err);
        // s3: is a backend; a location without an endpoint URL says its form.
        let explained = err.contains("not supported") || err.contains("s3:http(s)://ENDPOINT/BUCKET");
        assert!(err.contains("--repo") && explained, "{loc}: {err}");
    }
    assert!(fs::read_dir(tmp.path()).unwrap().next().is_none(), "a directory was created");
    // A local directory whose name merely contains a colon still works as ./name.
    let local = tmp.path().join("s3:local");
    init_small(&local);
    assert!(local.join("config").exists());
}

/// Each flag's own name in its error.
#[test]
fn errors_name_the_flag_given() {
    let (tmp, repo, _, _) = populated();
    let (_, err) = fails(cairn(&repo).args(["restore", "--at", "last tuesday", "--target"]).arg(tmp.path().join("t")));
    one_line(&err);
    assert!(err.contains("--at") && !err.contains("--time"), "{err}");
    let fresh = tmp.path().join("fresh");
    for (args, flag) in [
        (vec!["--compression", "30"], "--compression"),
        (vec!["--pack-size", "10"], "--pack-size"),
        (vec!["--chunk-min", "10"], "--chunk-min"),
        (vec!["--chunk-max", "99999999999"], "--chunk-max"),
        (vec!["--kdf-memory-kib", "99999999"], "--kdf-memory-kib"),
        (vec!["--kdf-iterations", "0"], "--kdf-iterations"),
    ] {
        let (_, err) = fails(cairn(&fresh).arg("init").args(&args));
        one_line(&err);
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!fresh.join("config").exists());
    }
}

/// Another tool's repository (restic's layout: config, keys/, data/,
/// index/, snapshots/) is "not a cairn repository", before any password.
#[test]
fn a_restic_repository_is_not_a_cairn_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path().join("restic-repo");
    for d in ["keys", "data/00", "index", "snapshots", "locks"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    let mut cfg = vec![0u8; 155];
    cairn::sample::Rng::new(1).fill(&mut cfg);
    fs::write(r.join("config"), cfg).unwrap();
    fs::write(r.join("keys/3f5e"), br#"{"created":"2026-01-01T00:00:00Z","kdf":"scrypt","N":32768,"r":8,"p":1,"salt":"c2FsdA==","data":"ZGF0YQ=="}"#).unwrap();
    let before = digest(&r);
    let (code, err) = fails(cairn(&r).env_remove("CAIRN_PASSWORD").arg("snapshots"));
    one_line(&err);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("not a cairn repository") && !err.contains("password"), "{err}");
    assert_eq!(digest(&r), before);
}

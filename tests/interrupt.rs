//! Ctrl-C (SIGINT) and SIGTERM during a backup or a restore: the process is
//! held at a chosen moment (`CAIRN_PAUSE=NAME@N:PATH`), signalled, released,
//! and must stop with exit 130 and a message, leaving no temporary file;
//! a backup keeps what it stored (indexed, so the next backup does not store
//! it again) and a rerun of a restore with `--overwrite` completes it.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// 12 files of 1 MiB random data: about 48 packs of 256 KiB.
fn source(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    for i in 0..12u64 {
        let mut data = vec![0u8; 1 << 20];
        cairn::sample::Rng::new(i + 7).fill(&mut data);
        fs::write(src.join(format!("f{i:02}")), data).unwrap();
    }
    src
}

/// Start `cmd` held at `point`, wait until it is there, send `signal`, release.
fn signalled(cmd: &mut Command, point: &str, signal: i32, dir: &Path) -> std::process::Output {
    let go = dir.join(format!("go-{}", rand_suffix()));
    let child: Child = cmd
        .env("CAIRN_PAUSE", format!("{point}:{}", go.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&PathBuf::from(format!("{}.waiting", go.display())));
    // SAFETY: a plain syscall on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    std::thread::sleep(std::time::Duration::from_millis(100));
    fs::write(&go, b"").unwrap();
    child.wait_with_output().unwrap()
}

/// Bytes of pack files in the repository.
fn pack_bytes(repo: &Path) -> u64 {
    walkdir::WalkDir::new(repo.join("data"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// No temporary file anywhere in the repository.
fn no_temporaries(repo: &Path) {
    for e in walkdir::WalkDir::new(repo).into_iter().filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy();
        assert!(!name.starts_with(".tmp-"), "temporary file left: {}", e.path().display());
    }
}

fn stored(v: &serde_json::Value) -> u64 {
    v["bytes_new_stored"].as_u64().unwrap_or_else(|| panic!("no bytes_new_stored in {v}"))
}

/// What a clean backup of the source stores.
fn clean_size(dir: &Path, src: &Path) -> u64 {
    let repo = dir.join("clean");
    init_small(&repo);
    stored(&backup_json(&repo, &[src]))
}

#[test]
fn sigint_during_backup_keeps_what_was_stored_and_the_next_backup_reuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path());
    let clean = clean_size(tmp.path(), &src);
    // Before anything is stored, early, late (of about 48 packs), and SIGTERM.
    for (point, signal) in [
        ("backup-start", libc::SIGINT),
        ("pack-written@2", libc::SIGINT),
        ("pack-written@40", libc::SIGINT),
        ("pack-written@10", libc::SIGTERM),
    ] {
        let repo = tmp.path().join(format!("repo-{}", rand_suffix()));
        init_small(&repo);
        let out = signalled(cairn(&repo).args(["backup", "--json"]).arg(&src), point, signal, tmp.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{point}: {err}");
        one_line(&err);
        assert!(err.contains("interrupted"), "{point}: {err}");
        assert!(snapshots(&repo).is_empty(), "{point}: an interrupted backup left a snapshot");
        no_temporaries(&repo);
        ok(cairn(&repo).args(["check", "--read-data"]));
        let kept = pack_bytes(&repo);
        if point != "backup-start" {
            assert!(err.contains("indexed"), "{point}: the message does not say what was kept: {err}");
            assert!(kept > 0, "{point}: nothing kept");
        }

        let next = backup_json(&repo, &[&src]);
        // The next backup stores only what the first had not: together they
        // stored hardly more than one clean backup does.
        let again = stored(&next);
        assert!(
            kept + again <= clean + clean / 10,
            "{point}: kept {kept} + stored again {again} > clean {clean} + 10%"
        );
        if point == "pack-written@40" {
            assert!(again < kept / 10 + kept / 4, "{point}: the next backup stored {again} of {kept} already kept");
        }
        restore_and_compare(&repo, next["snapshot_id"].as_str().unwrap(), &src, tmp.path());
        ok(cairn(&repo).args(["check", "--read-data"]));
    }
}

/// Every name under `dir`, relative.
fn names(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn sigint_during_restore_leaves_no_temporary_file_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = source(tmp.path());
    let repo = tmp.path().join("repo");
    init_small(&repo);
    let id = backup(&repo, &[&src]);
    let expected = names(&src);
    for point in ["read-range@1", "read-range@20"] {
        let target = tmp.path().join(format!("out-{}", rand_suffix()));
        let out =
            signalled(cairn(&repo).args(["restore", &id, "--target"]).arg(&target), point, libc::SIGINT, tmp.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{point}: {err}");
        one_line(&err);
        assert!(err.contains("--overwrite"), "{point}: the message does not say how to finish: {err}");
        let restored = target.join("src");
        for n in names(&restored) {
            assert!(expected.contains(&n), "{point}: left behind: {n}");
        }
        ok(cairn(&repo).args(["restore", &id, "--overwrite", "--target"]).arg(&target));
        cairn::sample::compare_trees(&src, &restored).unwrap();
    }
}

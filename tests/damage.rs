//! Damage: flipped, truncated and deleted packs are reported by check with
//! the snapshot they affect, and a restore touching them fails loudly
//! without writing wrong bytes.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

struct Setup {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    src: PathBuf,
    snap: String,
    root: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    fs::create_dir(&src).unwrap();
    let mut data = vec![0u8; 2 << 20];
    cairn::sample::Rng::new(5).fill(&mut data);
    fs::write(src.join("precious.bin"), &data).unwrap();
    init_small(&repo);
    let snap = backup(&repo, &[&src]);
    let root = tmp.path().to_path_buf();
    Setup { _tmp: tmp, repo, src, snap, root }
}

/// The largest pack: it holds file data, not only tree blobs.
fn a_data_pack(repo: &Path) -> PathBuf {
    let mut packs: Vec<(u64, PathBuf)> = walkdir::WalkDir::new(repo.join("data"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.metadata().unwrap().len(), e.path().to_path_buf()))
        .collect();
    packs.sort();
    packs.pop().unwrap().1
}

/// Flip bits `mask` of the middle byte of a file.
fn flip_middle(path: &Path, mask: u8) {
    let mut bytes = fs::read(path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= mask;
    fs::write(path, bytes).unwrap();
}

fn assert_reported(s: &Setup, read_data: bool, pack: &Path) {
    let mut cmd = cairn(&s.repo);
    cmd.arg("check");
    if read_data {
        cmd.arg("--read-data");
    }
    let out = run(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "check must fail: {stdout}");
    let name = pack.file_name().unwrap().to_string_lossy();
    assert!(stdout.contains(&*name), "pack {name} not named: {stdout}");
    assert!(stdout.contains(&s.snap[..8]), "affected snapshot not named: {stdout}");
}

fn assert_restore_fails_cleanly(s: &Setup) {
    let target = s.root.join("restore-target");
    let (code, err) = fails(cairn(&s.repo).args(["restore", &s.snap, "--target"]).arg(&target));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("precious.bin"), "error must name the file: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    // No file with wrong contents exists under its real name, and no temporary is left.
    let restored = target.join("data/precious.bin");
    if restored.exists() {
        assert_eq!(fs::read(&restored).unwrap(), fs::read(s.src.join("precious.bin")).unwrap());
    }
    let leftovers: Vec<_> = fs::read_dir(target.join("data")).unwrap().filter_map(Result::ok).collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn flipped_byte_is_found_by_read_data() {
    let s = setup();
    let pack = a_data_pack(&s.repo);
    flip_middle(&pack, 0x01);
    ok(cairn(&s.repo).arg("check")); // structure alone cannot see a flipped byte
    assert_reported(&s, true, &pack);
    assert_restore_fails_cleanly(&s);
}

#[test]
fn truncated_pack_is_found() {
    let s = setup();
    let pack = a_data_pack(&s.repo);
    let bytes = fs::read(&pack).unwrap();
    fs::write(&pack, &bytes[..bytes.len() / 3]).unwrap();
    assert_reported(&s, true, &pack);
    assert_reported(&s, false, &pack);
    assert_restore_fails_cleanly(&s);
}

#[test]
fn deleted_pack_is_found_by_plain_check() {
    let s = setup();
    let pack = a_data_pack(&s.repo);
    fs::remove_file(&pack).unwrap();
    assert_reported(&s, false, &pack);
    assert_reported(&s, true, &pack);
    assert_restore_fails_cleanly(&s);
}

/// One flipped byte in one blob: check names the pack once and exactly that
/// blob, with the file it belongs to.
#[test]
fn flipped_byte_names_the_pack_once_and_exactly_the_damaged_blob() {
    let s = setup();
    let pack = a_data_pack(&s.repo);
    flip_middle(&pack, 0x01);
    let out = run(cairn(&s.repo).args(["check", "--read-data", "--json"]));
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = pack.file_name().unwrap().to_string_lossy().to_string();
    let packs = v["damaged_packs"].as_array().unwrap();
    assert_eq!(packs.len(), 1, "{v}");
    assert!(packs[0]["pack"].as_str().unwrap().ends_with(&name), "{v}");
    let blobs = v["damaged_blobs"].as_array().unwrap();
    assert_eq!(blobs.len(), 1, "only the blob that fails is damaged: {v}");
    assert_eq!(blobs[0]["used_by"][0]["snapshot"], &s.snap[..8]);
    assert_eq!(blobs[0]["used_by"][0]["paths"][0], "data/precious.bin");
    // Exactly one pack line and one blob line in the text output too.
    assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
}

/// Two snapshots, each with its own index file; one flipped byte in one of
/// them: listing works, the other snapshot restores, check names the file.
#[test]
fn damaged_index_file_is_skipped_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, a, b) = (tmp.path().join("repo"), tmp.path().join("a"), tmp.path().join("b"));
    state(&a, 1);
    state(&b, 60);
    init_small(&repo);
    let sa = backup(&repo, &[&a]);
    let before: Vec<_> = fs::read_dir(repo.join("index")).unwrap().map(|e| e.unwrap().path()).collect();
    let sb = backup(&repo, &[&b]);
    let file =
        fs::read_dir(repo.join("index")).unwrap().map(|e| e.unwrap().path()).find(|p| !before.contains(p)).unwrap();
    flip_middle(&file, 0x04);
    let name = file.file_name().unwrap().to_string_lossy().to_string();

    let out = ok(cairn(&repo).args(["snapshots"]));
    assert!(out.contains(&sa[..8]) && out.contains(&sb[..8]), "{out}");
    let target = tmp.path().join("ra");
    let r = run(cairn(&repo).args(["restore", &sa, "--target"]).arg(&target));
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let warn = String::from_utf8_lossy(&r.stderr);
    assert!(warn.contains(&name) && warn.contains("repair index"), "the damaged file is warned about: {warn}");
    assert_eq!(digest(&target.join("a")), digest(&a));
    let (code, err) = fails(cairn(&repo).args(["restore", &sb, "--target"]).arg(tmp.path().join("rb")));
    assert_eq!(code, 3, "{err}");
    let out = run(cairn(&repo).arg("check"));
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&name) && text.contains("unreadable"), "{text}");
    // Repaired from the packs, everything restores again.
    ok(cairn(&repo).args(["repair", "index"]));
    ok(cairn(&repo).args(["check", "--read-data"]));
    restore_and_compare(&repo, &sb, &b, tmp.path());
}

/// `--read-data-subset N/M`: the slices 1/M … M/M read every pack exactly
/// once between them, so one flipped byte is found by exactly one slice;
/// `P%` reads a random part; bad specs fail with one line.
#[test]
fn subsets_cover_every_pack_exactly_once() {
    let s = setup();
    let pack = a_data_pack(&s.repo);
    flip_middle(&pack, 0x08);
    let check = |spec: &str| -> (Option<i32>, serde_json::Value) {
        let out = run(cairn(&s.repo).args(["check", "--json", "--read-data-subset", spec]));
        (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
    };
    let m = 4;
    let (mut read, mut found) = (0, 0);
    let mut total = 0;
    for n in 1..=m {
        let (code, v) = check(&format!("{n}/{m}"));
        read += v["packs_read"].as_u64().unwrap();
        total = v["packs"].as_u64().unwrap();
        if code == Some(3) {
            found += 1;
            assert!(v["damaged_packs"].to_string().contains(&*pack.file_name().unwrap().to_string_lossy()), "{v}");
        } else {
            assert_eq!(code, Some(0), "{v}");
        }
    }
    assert!(total >= 8, "too few packs ({total}) for the test to mean anything");
    assert_eq!((read, found), (total, 1), "slices must read each pack once");
    let (code, v) = check("100%");
    assert_eq!((code, v["packs_read"].as_u64()), (Some(3), Some(total)));
    for bad in ["0/4", "5/4", "x", "0%", "150%", "1/0"] {
        let (code, err) = fails(cairn(&s.repo).args(["check", "--read-data-subset", bad]));
        one_line(&err);
        assert_eq!(code, 1, "{bad}: {err}");
    }
}

/// `--quarantine` moves a damaged pack aside (its bytes kept under
/// quarantine/), and only with the flag; `repair index` then forgets its
/// blobs, so the next backup of the same data stores them again and the new
/// snapshot restores byte-exact.
#[test]
fn quarantine_moves_a_damaged_pack_aside_and_only_when_asked() {
    let s = setup();
    let pack = a_data_pack(&s.repo);
    flip_middle(&pack, 0x02);
    let damaged = fs::read(&pack).unwrap();
    assert_eq!(run(cairn(&s.repo).args(["check", "--read-data"])).status.code(), Some(3));
    assert!(pack.exists(), "check moved a pack without --quarantine");
    let out = run(cairn(&s.repo).args(["check", "--read-data", "--quarantine", "--json"]));
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = pack.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(v["quarantined"], serde_json::json!([format!("quarantine/{name}")]), "{v}");
    assert!(!pack.exists());
    assert_eq!(fs::read(s.repo.join("quarantine").join(&name)).unwrap(), damaged, "the bytes were not kept");
    ok(cairn(&s.repo).args(["repair", "index"]));
    let again = backup(&s.repo, &[&s.src]);
    let target = s.root.join("healed");
    ok(cairn(&s.repo).args(["restore", &again, "--target"]).arg(&target));
    assert_eq!(fs::read(target.join("data/precious.bin")).unwrap(), fs::read(s.src.join("precious.bin")).unwrap());
}

//! Encrypted repositories: no plaintext at rest, every object authenticated,
//! and the password and key-file operations behaving as documented.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

const MARKER: &[u8] = b"CAIRN-MARKER-7f3a9c1e";

/// Random (incompressible) data with the marker in the middle, and the
/// marker in a file name too.
fn marked_tree(root: &Path) {
    fs::create_dir_all(root).unwrap();
    let mut data = vec![0u8; 200_000];
    cairn::sample::Rng::new(3).fill(&mut data);
    data[100_000..100_000 + MARKER.len()].copy_from_slice(MARKER);
    fs::write(root.join("secret.bin"), &data).unwrap();
    fs::write(root.join(format!("{}.txt", String::from_utf8_lossy(MARKER))), b"x").unwrap();
}

fn repo_contains(repo: &Path, needle: &[u8]) -> bool {
    walkdir::WalkDir::new(repo)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .any(|e| fs::read(e.path()).unwrap().windows(needle.len()).any(|w| w == needle))
}

#[test]
fn no_plaintext_at_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("data");
    marked_tree(&src);
    let (plain, enc, chacha) = (tmp.path().join("plain"), tmp.path().join("enc"), tmp.path().join("chacha"));
    ok(cairn(&plain).args(["init", "--no-encryption"]).args(SMALL_CHUNKS));
    init_small(&enc);
    ok(cairn(&chacha).args(["init", "--cipher", "xchacha20-poly1305"]).args(SMALL_CHUNKS).args(FAST_KDF));
    for r in [&plain, &enc, &chacha] {
        ok(cairn(r).args(["backup", "--tag", "CAIRN-MARKER-7f3a9c1e"]).arg(&src));
    }
    assert!(repo_contains(&plain, MARKER), "the test must be able to see plaintext");
    for (r, cipher) in [(&plain, "None"), (&enc, "Xaes256Gcm"), (&chacha, "XChaCha20Poly1305")] {
        let cfg: serde_json::Value = serde_json::from_str(&ok(cairn(r).args(["cat", "config"]))).unwrap();
        assert_eq!(cfg["encryption"], cipher);
    }
    for r in [&enc, &chacha] {
        assert!(!repo_contains(r, MARKER), "marker found in encrypted repository {}", r.display());
        assert!(!repo_contains(r, src.to_str().unwrap().as_bytes()), "source path leaked");
        restore_and_compare(r, "latest", &src, tmp.path());
    }
    let (_, err) = fails(cairn(&tmp.path().join("x")).args(["init", "--no-encryption", "--cipher", "xaes-256-gcm"]));
    assert!(err.contains("cannot be used with"), "{err}");
}

/// Every object file of a repository, with the command that must read it.
fn objects(repo: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(repo)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[test]
fn any_flipped_byte_is_detected_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 1, 9).unwrap();
    init_small(&repo);
    backup(&repo, &[&src]);
    let mut kinds = std::collections::BTreeSet::new();
    for obj in objects(&repo) {
        let rel = obj.strip_prefix(&repo).unwrap().to_string_lossy().into_owned();
        let kind = rel.split('/').next().unwrap().to_string();
        let bytes = fs::read(&obj).unwrap();
        // Every byte of small objects; for packs, 64 spread positions plus the ends.
        let positions: Vec<usize> = if bytes.len() <= 4096 {
            (0..bytes.len()).collect()
        } else {
            (0..64).map(|i| i * bytes.len() / 64).chain([bytes.len() - 1, bytes.len() - 30]).collect()
        };
        for &at in &positions {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            fs::write(&obj, &bad).unwrap();
            let out = match kind.as_str() {
                "data" => run(cairn(&repo).args(["check", "--read-data"])),
                _ => run(cairn(&repo).args(["ls", "latest"])),
            };
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(!out.status.success(), "{rel}: flip at {at} went unnoticed");
            let name = obj.file_name().unwrap().to_string_lossy();
            let named =
                text.contains(&*name) || (kind == "config" && text.contains("config")) || (kind == "config" && at < 12);
            assert!(named, "{rel}: flip at {at}: error does not name the object: {text}");
            if kind != "data" && !(kind == "config" && at < 12) {
                assert!(
                    text.contains("authentication failed") || text.contains("wrong password"),
                    "{rel}@{at}: {text}"
                );
            }
        }
        fs::write(&obj, &bytes).unwrap();
        kinds.insert(kind);
    }
    let want: std::collections::BTreeSet<String> =
        ["config", "data", "index", "keys", "snapshots"].iter().map(|s| s.to_string()).collect();
    assert_eq!(kinds, want);
    ok(cairn(&repo).args(["check", "--read-data"]));
}

fn with_password<'a>(c: &'a mut std::process::Command, pw: &str) -> &'a mut std::process::Command {
    c.env("CAIRN_PASSWORD", pw)
}

#[test]
fn passwords_and_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 1, 10).unwrap();
    init_small(&repo);
    backup(&repo, &[&src]);
    let before = digest(&repo);

    // Wrong password: one clear line, its own exit code, nothing written.
    let (code, err) = fails(with_password(cairn(&repo).args(["backup"]).arg(&src), "nope"));
    assert_eq!(code, 12, "{err}");
    assert!(err.contains("wrong password or no key matches") && err.contains("keys/"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);
    assert_eq!(digest(&repo), before);

    // No password and no terminal.
    let (_, err) = fails(cairn(&repo).env_remove("CAIRN_PASSWORD").arg("snapshots"));
    assert!(err.contains("CAIRN_PASSWORD") && err.contains("--password-file"), "{err}");

    // Password from a file, via the flag and via the environment.
    let pwfile = tmp.path().join("pw");
    fs::write(&pwfile, format!("{PASSWORD}\n")).unwrap();
    ok(cairn(&repo).env_remove("CAIRN_PASSWORD").arg("--password-file").arg(&pwfile).arg("snapshots"));
    ok(cairn(&repo).env_remove("CAIRN_PASSWORD").env("CAIRN_PASSWORD_FILE", &pwfile).arg("snapshots"));

    // Add a key: both passwords open the repository.
    ok(cairn(&repo).args(["key", "add"]).args(FAST_KDF).env("CAIRN_NEW_PASSWORD", "second"));
    ok(with_password(cairn(&repo).arg("snapshots"), "second"));
    ok(cairn(&repo).arg("snapshots"));
    let list: serde_json::Value = serde_json::from_str(&ok(cairn(&repo).args(["key", "list", "--json"]))).unwrap();
    let keys = list.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let first = keys.iter().find(|k| k["current"] == true).unwrap()["id"].as_str().unwrap().to_string();

    // Remove the first key (opened with the second password): only the second works.
    ok(with_password(cairn(&repo).args(["key", "remove", &first[..12]]), "second"));
    let (code, _) = fails(cairn(&repo).arg("snapshots"));
    assert_eq!(code, 12);
    // The last key is never removed.
    let last = fs::read_dir(repo.join("keys")).unwrap().next().unwrap().unwrap().file_name().into_string().unwrap();
    let (_, err) = fails(with_password(cairn(&repo).args(["key", "remove", &last]), "second"));
    assert!(err.contains("last key"), "{err}");
    assert!(repo.join("keys").join(&last).exists());

    // Change the password: the old one stops working, the new one works.
    ok(with_password(cairn(&repo).args(["key", "passwd"]).args(FAST_KDF).env("CAIRN_NEW_PASSWORD", "third"), "second"));
    assert_eq!(fails(with_password(cairn(&repo).arg("snapshots"), "second")).0, 12);
    let target = tmp.path().join("r");
    ok(with_password(cairn(&repo).args(["restore", "latest", "--target"]).arg(&target), "third"));
    cairn::sample::compare_trees(&src, &target.join("data")).unwrap();
}

#[test]
fn damaged_missing_and_substituted_keys_and_config() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 1, 11).unwrap();
    init_small(&repo);
    backup(&repo, &[&src]);
    let key = fs::read_dir(repo.join("keys")).unwrap().next().unwrap().unwrap().path();
    let key_bytes = fs::read(&key).unwrap();
    let name = key.file_name().unwrap().to_string_lossy().into_owned();

    // A corrupted key file is named.
    fs::write(&key, b"garbage").unwrap();
    let before = digest(&repo);
    let (code, err) = fails(cairn(&repo).arg("snapshots"));
    assert_eq!(code, 12);
    assert!(err.contains(&name) && err.contains("damaged"), "{err}");
    assert_eq!(digest(&repo), before);

    // No key file at all.
    fs::remove_file(&key).unwrap();
    let (_, err) = fails(cairn(&repo).arg("snapshots"));
    assert!(err.contains("no usable key file"), "{err}");
    fs::write(&key, &key_bytes).unwrap();

    // A plaintext config put in place of the encrypted one fails
    // authentication, and nothing is written through it.
    let plain = tmp.path().join("plain");
    ok(cairn(&plain).args(["init", "--no-encryption"]));
    let cfg = fs::read(repo.join("config")).unwrap();
    fs::copy(plain.join("config"), repo.join("config")).unwrap();
    let before = digest(&repo);
    let (_, err) = fails(cairn(&repo).arg("backup").arg(&src));
    assert!(err.contains("config") && err.contains("authentication failed"), "{err}");
    assert_eq!(digest(&repo), before);
    fs::write(repo.join("config"), cfg).unwrap();
    ok(cairn(&repo).args(["check", "--read-data"]));
}

#[test]
fn password_prompt_on_a_terminal_does_not_echo() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    init_small(&repo);
    // `script` gives cairn a pseudo-terminal; the password is typed into it.
    let cmd = format!("{} --repo {} snapshots", env!("CARGO_BIN_EXE_cairn"), repo.display());
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("CAIRN_PASSWORD")
        .env_remove("CAIRN_PASSWORD_FILE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    // Type only once the prompt has turned echo off, as a person would.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("repository password:") && text.contains("0 snapshot(s)"), "{text}");
    assert!(!text.contains(PASSWORD), "the password was echoed: {text}");
}

/// Check reads every key file, not only the one that unlocked: a damaged
/// second key (whose password would be the only way in once the first is
/// forgotten) is named.
#[test]
fn check_names_a_damaged_key_file_it_did_not_use() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = (tmp.path().join("repo"), tmp.path().join("data"));
    cairn::sample::generate(&src, 1, 3).unwrap();
    init_small(&repo);
    backup(&repo, &[&src]);
    let first: Vec<PathBuf> = fs::read_dir(repo.join("keys")).unwrap().map(|e| e.unwrap().path()).collect();
    ok(cairn(&repo).args(["key", "add"]).args(FAST_KDF).env("CAIRN_NEW_PASSWORD", "second"));
    let second =
        fs::read_dir(repo.join("keys")).unwrap().map(|e| e.unwrap().path()).find(|p| !first.contains(p)).unwrap();
    ok(cairn(&repo).arg("check"));
    let mut bytes = fs::read(&second).unwrap();
    bytes.truncate(bytes.len() - 5);
    fs::write(&second, bytes).unwrap();
    let out = run(cairn(&repo).arg("check"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    let name = second.file_name().unwrap().to_string_lossy();
    assert!(text.contains(&*name) && text.contains("key file"), "{text}");
}

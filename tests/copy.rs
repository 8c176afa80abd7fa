//! `copy --from-repo`: snapshots of files and a database move into a
//! repository made with `init --from-repo`, re-encrypted under its own
//! keys (no pack file in common), deduplicated against what it holds, with
//! their ids; refused, with nothing changed, between a repository and
//! itself or into one that names chunks differently.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

const OTHER: &str = "a different password for the copy";

fn packs(repo: &Path) -> BTreeSet<String> {
    digest(&repo.join("data")).keys().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
}

/// A command on the destination, with the source's password beside it.
fn to(dest: &Path) -> std::process::Command {
    let mut c = cairn(dest);
    c.env("CAIRN_PASSWORD", OTHER).env("CAIRN_FROM_PASSWORD", PASSWORD);
    c
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn copy_moves_snapshots_re_encrypted_and_deduplicated() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest, data, db) =
        (tmp.path().join("src"), tmp.path().join("dest"), tmp.path().join("data"), tmp.path().join("app.db"));
    init_small(&src);
    state(&data, 40);
    appdb::make_app_db(&db, 600);
    let sqlite = format!("sqlite:{}", db.display());
    ok(cairn(&src).args(["backup", "--tag", "monthly"]).arg(&data).arg(&sqlite));
    state(&data, 41);
    ok(cairn(&src).arg("backup").arg(&data).arg(&sqlite));

    ok(to(&dest).args(["init", "--from-repo"]).arg(&src).args(FAST_KDF));
    let out = ok(to(&dest).args(["copy", "--json", "--from-repo"]).arg(&src));
    let copied = json_lines(&out);
    assert_eq!(copied.len(), 2);
    assert!(copied.iter().all(|c| c["copied"] == true), "{out}");
    let ids = |r: &Path, pw: &str| -> Vec<String> {
        let mut c = cairn(r);
        c.env("CAIRN_PASSWORD", pw).args(["snapshots", "--json"]);
        let v: serde_json::Value = serde_json::from_str(ok(&mut c).trim()).unwrap();
        v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&dest, OTHER), ids(&src, PASSWORD), "snapshots keep their ids");
    assert!(packs(&src).is_disjoint(&packs(&dest)), "a pack file was copied as is, not re-encrypted");
    ok(to(&dest).args(["check", "--read-data"]));
    let out_dir = tmp.path().join("out");
    ok(to(&dest).args(["restore", "latest", "--target"]).arg(&out_dir));
    assert_eq!(digest(&out_dir.join("data")), digest(&data));
    assert_eq!(appdb::query_i64(&out_dir.join("app.db"), "SELECT count(*) FROM episodes"), 600);

    // Again: nothing to do. A new source snapshot: only its new data moves.
    let before = digest(&dest);
    let out = ok(to(&dest).args(["copy", "--json", "--from-repo"]).arg(&src));
    assert!(json_lines(&out).iter().all(|c| c["copied"] == false), "{out}");
    assert_eq!(digest(&dest), before);
    state(&data, 42);
    ok(cairn(&src).arg("backup").arg(&data).arg(&sqlite));
    let first = copied[0]["bytes_new_stored"].as_u64().unwrap();
    let out = ok(to(&dest).args(["copy", "--json", "latest", "--from-repo"]).arg(&src));
    let third = &json_lines(&out)[0];
    assert!(third["bytes_new_stored"].as_u64().unwrap() < first / 5, "not deduplicated: {third} after {first}");
    // By filter.
    let other = tmp.path().join("other");
    ok(to(&other).args(["init", "--from-repo"]).arg(&src).args(FAST_KDF));
    ok(to(&other).args(["copy", "--tag", "monthly", "--from-repo"]).arg(&src));
    assert_eq!(ids(&other, OTHER).len(), 1);
}

#[test]
fn copy_refuses_pairs_that_cannot_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, plain, unrelated, data) =
        (tmp.path().join("src"), tmp.path().join("plain"), tmp.path().join("unrelated"), tmp.path().join("data"));
    init_small(&src);
    state(&data, 1);
    backup(&src, &[&data]);
    init_small(&unrelated);
    let before = (digest(&src), digest(&unrelated));
    let cases: Vec<(Vec<String>, &Path, &str)> = vec![
        (vec!["copy".into(), "--from-repo".into(), src.display().to_string()], &src, "same repository"),
        (vec!["copy".into(), "--from-repo".into(), src.display().to_string()], &unrelated, "init --from-repo"),
        (vec!["copy".into(), "deadbeef".into(), "--from-repo".into(), src.display().to_string()], &unrelated, ""),
        (vec!["copy".into()], &unrelated, "--from-repo"),
    ];
    for (args, repo, says) in cases {
        let mut c = cairn(repo);
        c.env("CAIRN_FROM_PASSWORD", PASSWORD).args(&args);
        let (code, err) = fails(&mut c);
        assert_eq!(code, 1, "{args:?}: {err}");
        one_line(&err);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!((digest(&src), digest(&unrelated)), before, "a refused copy changed a repository");
    // An encrypted source and a plaintext copy would name chunks differently.
    let mut c = cairn(&plain);
    c.env("CAIRN_FROM_PASSWORD", PASSWORD).args(["init", "--no-encryption", "--from-repo"]).arg(&src);
    let (_, err) = fails(&mut c);
    one_line(&err);
    assert!(!plain.exists() || fs::read_dir(&plain).unwrap().next().is_none());
    // No password for the source: the message names the source's variables.
    let (_, err) = fails(cairn(&unrelated).env_remove("CAIRN_FROM_PASSWORD").args(["copy", "--from-repo"]).arg(&src));
    one_line(&err);
    assert!(err.contains("CAIRN_FROM_PASSWORD"), "{err}");
}

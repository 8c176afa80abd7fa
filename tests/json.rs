//! Every command's `--json` parses (one object, or one per line for
//! streams) and uses only keys the README's "JSON output" section
//! documents: the schema a script can rely on is the one written down.

mod common;
use common::*;
use std::fs;

#[test]
fn every_commands_json_parses_and_is_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data, db) = (tmp.path().join("repo"), tmp.path().join("data"), tmp.path().join("app.db"));
    let mut outs: Vec<(String, String)> = Vec::new();
    let mut j = |name: &str, c: &mut std::process::Command| {
        let out = ok(c);
        assert!(!out.trim().is_empty(), "{name} --json printed nothing");
        outs.push((name.to_string(), out));
    };
    j("init", cairn(&repo).args(["init", "--json"]).args(SMALL_CHUNKS).args(FAST_KDF));
    state(&data, 2);
    appdb::make_app_db(&db, 50);
    j(
        "backup",
        cairn(&repo).args(["backup", "--json", "--tag", "t"]).arg(&data).arg(format!("sqlite:{}", db.display())),
    );
    state(&data, 3);
    j("backup", cairn(&repo).args(["backup", "--json"]).arg(&data).arg(format!("sqlite:{}", db.display())));
    let ids: Vec<String> = snapshots(&repo).iter().map(|s| s["short_id"].as_str().unwrap().to_string()).collect();
    j("snapshots", cairn(&repo).args(["snapshots", "--json", "--latest", "1"]));
    j("ls", cairn(&repo).args(["ls", "--json", "latest"]));
    j("stats", cairn(&repo).args(["stats", "--json"]));
    j("diff", cairn(&repo).args(["diff", "--json", &ids[0], &ids[1]]));
    j("find", cairn(&repo).args(["find", "--json", "file-0*"]));
    j("restore", cairn(&repo).args(["restore", "--json", "latest", "--target"]).arg(tmp.path().join("out")));
    j("protect", cairn(&repo).args(["protect", "--json", &ids[0]]));
    j("unprotect", cairn(&repo).args(["unprotect", "--json", &ids[0]]));
    j("tag", cairn(&repo).args(["tag", "--json", "latest", "--add", "x"]));
    j("check", cairn(&repo).args(["check", "--json", "--read-data"]));
    j("forget", cairn(&repo).args(["forget", "--json", "--dry-run", "--keep-last", "1"]));
    j("prune", cairn(&repo).args(["prune", "--json", "--dry-run"]));
    j("key list", cairn(&repo).args(["key", "list", "--json"]));
    j("repair snapshots", cairn(&repo).args(["repair", "snapshots", "--json", "--dry-run"]));
    j("version", cairn(&repo).args(["version", "--json"]));
    let copy = tmp.path().join("copy");
    let mut c = cairn(&copy);
    c.env("CAIRN_FROM_PASSWORD", PASSWORD).args(["init", "--json", "--from-repo"]).arg(&repo).args(FAST_KDF);
    j("init --from-repo", &mut c);
    let mut c = cairn(&copy);
    c.env("CAIRN_FROM_PASSWORD", PASSWORD).args(["copy", "--json", "--from-repo"]).arg(&repo);
    j("copy", &mut c);
    fs::remove_dir_all(tmp.path().join("out")).unwrap();

    let mut undocumented = Vec::new();
    for (name, out) in &outs {
        let (seen, missing) = undocumented_json_keys(std::slice::from_ref(out));
        assert!(seen > 0 || out.trim() == "[]", "{name}: no keys in {out}");
        if !missing.is_empty() {
            undocumented.push(format!("{name}: {missing:?}"));
        }
    }
    assert!(undocumented.is_empty(), "keys the README does not document:\n{}", undocumented.join("\n"));
}

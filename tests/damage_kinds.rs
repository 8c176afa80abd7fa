//! Damage to each kind of object a snapshot needs — a SQLite manifest, a
//! Chroma directory's id list, a tree, a snapshot object, an index file —
//! in a repository holding a database, a Chroma directory and files (format
//! 4: every blob sealed alone, so one flipped byte damages one blob).
//! `check --read-data` names the blob with the snapshot and the paths it
//! affects (under the source's name), and what it does not affect still
//! restores.

mod common;
use cairn::format::ObjectKind;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

struct Pristine {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    data: PathBuf,
}

fn pristine() -> Pristine {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fs::create_dir_all(data.join("scripts/season-1")).unwrap();
    appdb::make_app_db(&data.join("projects.db"), 300);
    cairn::sample::chroma_layout(&data.join("chroma"), 3000, 16, 5).unwrap();
    fs::write(data.join("scripts/season-1/pilot.fountain"), "INT. ROOM - DAY").unwrap();
    fs::write(data.join("scripts/notes.txt"), "notes").unwrap();
    let repo = tmp.path().join("repo");
    ok(cairn(&repo).args(["init", "--no-encryption", "--repository-version", "4"]));
    let args =
        [format!("sqlite:{}", data.join("projects.db").display()), format!("chroma:{}", data.join("chroma").display())];
    ok(cairn(&repo).arg("backup").args(&args).arg(data.join("scripts")));
    Pristine { _tmp: tmp, repo, data }
}

/// The blobs reached from the root entry `name` of the latest snapshot, with kinds.
fn reached(repo: &Path, name: &str) -> Vec<(cairn::Id, ObjectKind)> {
    let r = cairn::Repository::open_local(repo, None).unwrap();
    let (_, snap) = r.resolve_snapshot("latest").unwrap();
    let node = r.load_tree(&snap.tree).unwrap().into_iter().find(|n| n.name == name.as_bytes()).unwrap();
    let mut out = Vec::new();
    if node.kind == cairn::format::tree::NodeKind::Dir {
        out.extend(node.subtree.iter().map(|id| (*id, ObjectKind::Tree)));
        return out;
    }
    let mut v = cairn::source::reach::Fns {
        blob: |b: cairn::source::reach::Reached| {
            out.push((*b.id, b.kind));
            Ok(true)
        },
        node: |_: &Path, _: &cairn::format::tree::Node| Ok(true),
        failed: |_: &cairn::Id, _: &Path, e: cairn::Error| Err(e),
    };
    cairn::source::reach::walk_node(&mut |id| r.read_blob(id), &node, Path::new(name), &mut v).unwrap();
    out
}

/// Flip a byte in the middle of blob `id`'s bytes in its pack.
fn damage_blob(repo: &Path, id: &cairn::Id) {
    let r = cairn::Repository::open_local(repo, None).unwrap();
    let loc = r.locate(id).unwrap();
    let pack = repo.join(cairn::pack::pack_key(&loc.pack));
    let mut b = fs::read(&pack).unwrap();
    b[loc.offset as usize + loc.length as usize / 2] ^= 0x01;
    fs::write(&pack, b).unwrap();
}

/// check --read-data: its exit code and the (kind, paths) of damaged blobs.
fn damaged(repo: &Path) -> (Option<i32>, Vec<(String, Vec<String>)>) {
    let out = run(cairn(repo).args(["check", "--read-data", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let blobs = v["damaged_blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let paths = b["used_by"].as_array().unwrap().iter().flat_map(|u| u["paths"].as_array().unwrap().clone());
            (b["kind"].as_str().unwrap().to_string(), paths.map(|p| p.as_str().unwrap().to_string()).collect())
        })
        .collect();
    (out.status.code(), blobs)
}

/// Each damaged kind is named with its paths under `name`; `other` (a
/// root entry it does not affect) still restores.
fn case(name: &str, kind: ObjectKind, other: &str) {
    let p = pristine();
    let id = reached(&p.repo, name)
        .into_iter()
        .find(|(_, k)| *k == kind)
        .unwrap_or_else(|| panic!("no {kind:?} in {name}"))
        .0;
    damage_blob(&p.repo, &id);
    let (code, blobs) = damaged(&p.repo);
    assert_eq!(code, Some(3), "{blobs:?}");
    let hit = blobs.iter().find(|(k, _)| k == kind.name()).unwrap_or_else(|| panic!("{kind:?} not named: {blobs:?}"));
    assert!(!hit.1.is_empty() && hit.1.iter().all(|p| p.starts_with(name)), "{hit:?}");
    let target = p.repo.parent().unwrap().join("out");
    ok(cairn(&p.repo).args(["restore", "latest", "--include", other, "--target"]).arg(&target));
    assert!(target.join(other).exists());
    if kind == ObjectKind::Tree {
        // A pattern that may reach into the unreadable directory still fails.
        let (code, err) =
            fails(cairn(&p.repo).args(["restore", "latest", "--include", "*/*.txt", "--target"]).arg(target.join("x")));
        assert_eq!(code, 3, "{err}");
    }
    let _ = &p.data;
}

#[test]
fn a_damaged_sqlite_manifest_is_named_and_the_rest_restores() {
    case("projects.db", ObjectKind::SqliteManifest, "scripts");
}

#[test]
fn a_damaged_chroma_id_list_is_named_and_the_rest_restores() {
    case("chroma", ObjectKind::PageList, "projects.db");
}

#[test]
fn a_damaged_tree_is_named_and_the_rest_restores() {
    case("scripts", ObjectKind::Tree, "chroma");
}

#[test]
fn a_damaged_snapshot_or_a_lost_index_file_is_found() {
    let p = pristine();
    // A second snapshot, then the first's object damaged: named; the second is fine.
    ok(cairn(&p.repo).arg("backup").arg(p.data.join("scripts")));
    let snaps = snapshots(&p.repo);
    let first =
        snaps.iter().find(|s| s["sources"].as_array().unwrap().len() == 3).unwrap()["id"].as_str().unwrap().to_string();
    let file = p.repo.join("snapshots").join(&first);
    let mut b = fs::read(&file).unwrap();
    let at = b.len() / 2;
    b[at] ^= 0x01;
    fs::write(&file, &b).unwrap();
    let out = run(cairn(&p.repo).args(["check"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains(&first[..8]), "the damaged snapshot is not named: {text}");
    b[at] ^= 0x01;
    fs::write(&file, &b).unwrap();
    // An index file deleted: the blobs it listed are named as unindexed.
    let idx = fs::read_dir(p.repo.join("index")).unwrap().next().unwrap().unwrap().path();
    fs::remove_file(&idx).unwrap();
    let (code, blobs) = damaged(&p.repo);
    assert_eq!(code, Some(3), "{blobs:?}");
    assert!(!blobs.is_empty());
    ok(cairn(&p.repo).args(["repair", "index"]));
    ok(cairn(&p.repo).args(["check", "--read-data"]));
}

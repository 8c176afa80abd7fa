//! Crafted repositories: objects that decode but lie (names that climb out
//! of the target, duplicates, overlapping blob entries, unknown kinds,
//! impossible parameters, huge counts). Every command that meets one gets a
//! one-line error naming the object, never a panic; restore writes nothing
//! outside `--target`; the repository is left as it was.

mod common;
use cairn::backend::local::LocalBackend;
use cairn::backend::Backend;
use cairn::format::snapshot::{Snapshot, Source, SourceKind, Summary};
use cairn::format::tree::{Node, NodeKind, Tree};
use cairn::format::{ObjectKind, PREFIX_INDEX, PREFIX_SNAPSHOTS};
use cairn::pack::index::{IndexFile, IndexPack};
use cairn::pack::{finish_pack, new_pack_buffer, pack_key, BlobEntry};
use cairn::seal::Sealer;
use cairn::Id;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// A plaintext repository and the means to put any object into it.
struct Crafter {
    tmp: tempfile::TempDir,
    repo: PathBuf,
    backend: LocalBackend,
    sealer: Sealer,
}

impl Crafter {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        ok(cairn(&repo).args(["init", "--no-encryption"]).args(SMALL_CHUNKS));
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/precious"), b"must not change").unwrap();
        let backend = LocalBackend::new(&repo);
        Crafter { tmp, repo, backend, sealer: Sealer::new(3) }
    }

    fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    /// One pack holding `blobs`, with `entries` as its trailer and index
    /// entries (pass None to use the true ones). Returns the blob ids.
    fn pack(&self, blobs: &[(ObjectKind, Vec<u8>)], lie: impl FnOnce(&mut Vec<BlobEntry>)) -> Vec<Id> {
        let mut body = new_pack_buffer(vec![], 0);
        let mut entries = vec![];
        for (kind, raw) in blobs {
            let sealed = self.sealer.seal(*kind, raw);
            entries.push(BlobEntry {
                id: Id::hash(raw),
                kind: *kind as u8,
                offset: body.len() as u32,
                length: sealed.len() as u32,
                raw_length: raw.len() as u32,
            });
            body.extend_from_slice(&sealed);
        }
        let ids = entries.iter().map(|e| e.id).collect();
        lie(&mut entries);
        let (id, bytes) = finish_pack(body, &entries, &self.sealer);
        self.backend.put(&pack_key(&id), &bytes).unwrap();
        let raw = IndexFile { packs: vec![IndexPack { id, blobs: entries }] }.encode();
        let sealed = self.sealer.seal(ObjectKind::Index, &raw);
        self.backend.put(&format!("{PREFIX_INDEX}{}", Id::hash(&sealed)), &sealed).unwrap();
        ids
    }

    /// A snapshot whose root tree blob has the plaintext `tree`.
    fn snapshot(&self, tree: Vec<u8>, extra: Vec<(ObjectKind, Vec<u8>)>) -> String {
        let mut blobs = vec![(ObjectKind::Tree, tree)];
        blobs.extend(extra);
        let ids = self.pack(&blobs, |_| {});
        self.snapshot_of(ids[0])
    }

    fn snapshot_of(&self, root: Id) -> String {
        let s = Snapshot {
            version: 1,
            time_ns: 1_700_000_000_000_000_000,
            hostname: "crafted".into(),
            username: "x".into(),
            tags: vec![],
            sources: vec![Source { kind: SourceKind::FILES, path: self.scratch().join("src").display().to_string() }],
            tree: vec![root],
            parent: None,
            summary: Summary::default(),
            nonce: [7; 16],
            stack: None,
        };
        let raw = s.encode();
        let id = Id::hash(&raw);
        self.backend.put(&format!("{PREFIX_SNAPSHOTS}{id}"), &self.sealer.seal(ObjectKind::Snapshot, &raw)).unwrap();
        id.to_hex()
    }

    /// Every command that reads the snapshot fails with one line (or, for
    /// `restore`, restores only what is valid) and changes nothing outside
    /// the target, nor the repository.
    fn assert_refused(&self, snap: &str, expect: &str) {
        let repo_before = digest(&self.repo);
        let outside = self.scratch().join("outside");
        let outside_before = digest(&outside);
        let target = self.scratch().join(format!("target-{}", rand_suffix()));
        for args in [vec!["restore", snap, "--target", target.to_str().unwrap()], vec!["ls", snap]] {
            let out = run(cairn(&self.repo).args(&args));
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {err}");
            assert!(!out.status.success(), "{args:?} accepted a crafted snapshot");
            one_error(&err);
            assert!(err.contains(expect), "{args:?}: {err:?} does not say {expect:?}");
        }
        let out = run(cairn(&self.repo).arg("check"));
        assert_eq!(out.status.code(), Some(3), "check must report it: {}", String::from_utf8_lossy(&out.stdout));
        // A backup whose parent is the crafted snapshot re-reads everything.
        let src = self.scratch().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("f"), b"fine").unwrap();
        let out = run(cairn(&self.repo).args(["backup"]).arg(&src).args(["--host", "crafted"]));
        assert_ne!(out.status.code(), Some(101), "backup panicked");
        assert_eq!(digest(&outside), outside_before, "something outside the target changed");
        for e in walkdir::WalkDir::new(self.scratch()).min_depth(1).max_depth(1) {
            let p = e.unwrap().into_path();
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            assert!(["repo", "outside", "src"].contains(&n.as_str()) || n.starts_with("target-"), "created {n}");
        }
        // The backup added its own snapshot; nothing else changed.
        let after = digest(&self.repo);
        assert!(repo_before.iter().all(|(k, v)| after.get(k) == Some(v)), "the repository was changed");
    }
}

/// Exactly one error line (warnings about damaged metadata may precede it).
fn one_error(err: &str) {
    let lines: Vec<&str> = err.trim().lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("error: ")).count(), 1, "{err}");
    assert!(lines.iter().all(|l| l.starts_with("error: ") || l.starts_with("warning: ")), "{err}");
}

fn node(name: &[u8], kind: NodeKind) -> Node {
    Node::new(name, kind)
}

/// A file entry holding `data` as one chunk.
fn file(name: &[u8], data: &[u8]) -> Node {
    let mut f = node(name, NodeKind::File);
    f.content = vec![Id::hash(data)];
    f.size = data.len() as u64;
    f
}

/// A directory entry whose one tree blob is `tree` (encoded).
fn dir(name: &[u8], tree: &[u8]) -> Node {
    let mut d = node(name, NodeKind::Dir);
    d.subtree = vec![Id::hash(tree)];
    d
}

/// The tree blobs of `src/f` holding `data`: (root, inner).
fn src_with_file(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let inner = Tree { nodes: vec![file(b"f", data)] }.encode();
    (Tree { nodes: vec![dir(b"src", &inner)] }.encode(), inner)
}

/// A root directory `src` whose one tree blob holds `entries`.
fn with_entries(c: &Crafter, entries: Vec<Node>) -> String {
    with_entries_raw(c, Tree { nodes: entries }.encode())
}

#[test]
fn names_that_are_not_one_component() {
    let c = Crafter::new();
    let abs = c.scratch().join("outside/evil");
    for name in [&b".."[..], b".", b"", b"a/b", abs.as_os_str().as_encoded_bytes(), b"../outside/precious"] {
        let snap = with_entries(&c, vec![node(name, NodeKind::File)]);
        c.assert_refused(&snap, "not a single path component");
    }
}

#[test]
fn duplicate_names_and_a_symlink_with_a_directory_of_the_same_name() {
    let c = Crafter::new();
    let snap = with_entries(&c, vec![node(b"same", NodeKind::File), node(b"same", NodeKind::File)]);
    c.assert_refused(&snap, "appears twice");
    let mut link = node(b"d", NodeKind::Symlink);
    link.target = c.scratch().join("outside").as_os_str().as_encoded_bytes().to_vec();
    let dir = node(b"d", NodeKind::Dir);
    let snap = with_entries(&c, vec![link.clone(), dir]);
    c.assert_refused(&snap, "appears twice");
}

/// Restoring over an earlier restore that left a symlink where the next
/// snapshot has a directory: the symlink is replaced, never followed.
#[test]
fn overwrite_never_writes_through_a_symlink() {
    let c = Crafter::new();
    let mut link = node(b"d", NodeKind::Symlink);
    link.target = c.scratch().join("outside").as_os_str().as_encoded_bytes().to_vec();
    let first = with_entries(&c, vec![link]);
    let data = b"written inside".to_vec();
    let inner = Tree { nodes: vec![file(b"precious", &data)] }.encode();
    let mid = Tree { nodes: vec![dir(b"d", &inner)] }.encode();
    let second = c.snapshot(
        Tree { nodes: vec![dir(b"src", &mid)] }.encode(),
        vec![(ObjectKind::Tree, mid), (ObjectKind::Tree, inner), (ObjectKind::Data, data.clone())],
    );
    let target = c.scratch().join("target-shared");
    ok(cairn(&c.repo).args(["restore", &first, "--target"]).arg(&target));
    assert!(fs::symlink_metadata(target.join("src/d")).unwrap().file_type().is_symlink());
    ok(cairn(&c.repo).args(["restore", &second, "--overwrite", "--target"]).arg(&target));
    assert_eq!(fs::read(c.scratch().join("outside/precious")).unwrap(), b"must not change");
    assert!(fs::symlink_metadata(target.join("src/d")).unwrap().is_dir());
    assert_eq!(fs::read(target.join("src/d/precious")).unwrap(), data);
}

#[test]
fn overlapping_and_out_of_range_blob_entries() {
    let c = Crafter::new();
    let data = vec![b'x'; 5000];
    let (root, inner) = src_with_file(&data);
    // The index (and trailer) say the data blob starts inside the tree blob.
    let ids = c.pack(&[(ObjectKind::Tree, root), (ObjectKind::Tree, inner), (ObjectKind::Data, data.clone())], |e| {
        e[2].offset = e[1].offset + 2
    });
    let snap = c.snapshot_of(ids[0]);
    c.assert_refused(&snap, "not in any index");
    // Beyond the end of the pack.
    let c = Crafter::new();
    let (root, inner) = src_with_file(&data);
    let ids = c.pack(&[(ObjectKind::Tree, root), (ObjectKind::Tree, inner), (ObjectKind::Data, data)], |e| {
        e[2].offset += 1 << 20
    });
    let snap = c.snapshot_of(ids[0]);
    let target = c.scratch().join("target-range");
    let (code, err) = fails(cairn(&c.repo).args(["restore", &snap, "--target"]).arg(&target));
    one_error(&err);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("src/f"), "{err}");
}

#[test]
fn unknown_node_kind_and_huge_counts() {
    let c = Crafter::new();
    let mut tree = Tree { nodes: vec![node(b"x", NodeKind::File)] }.encode();
    // Vec length (8) + name length (8) + name (1), then the kind as a u32.
    tree[17..21].copy_from_slice(&9u32.to_le_bytes());
    let snap = with_entries_raw(&c, tree);
    c.assert_refused(&snap, "tree");
    let mut tree = Tree { nodes: vec![node(b"x", NodeKind::File)] }.encode();
    tree[..8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let snap = with_entries_raw(&c, tree);
    c.assert_refused(&snap, "tree");
    // A database claiming 2^31 pages (8 TiB) in one page list.
    let m = cairn::source::sqlite::manifest::SqliteManifest {
        page_size: 4096,
        page_count: 1 << 31,
        page_lists: vec![Id::hash(b"list")],
        journal_mode: "wal".into(),
        user_version: 0,
        schema_version: 0,
        tables: vec![],
        method: cairn::source::sqlite::manifest::CaptureMethod::Dbpage,
        integrity: cairn::source::sqlite::manifest::Integrity::NotChecked,
        hold_ms: 0,
        sqlite_version: "3".into(),
        dictionary: None,
        patches: vec![],
        base_pages: 1 << 31,
        patched: 0,
    }
    .encode(cairn::format::REPO_VERSION);
    let mut db = node(b"app.db", cairn::source::sqlite::NODE_KIND);
    db.content = vec![Id::hash(&m)];
    let snap = c.snapshot(Tree { nodes: vec![db] }.encode(), vec![(ObjectKind::SqliteManifest, m)]);
    let target = c.scratch().join("target-db");
    let (code, err) = fails(cairn(&c.repo).args(["restore", &snap, "--target"]).arg(&target));
    one_error(&err);
    assert_ne!(code, 101);
    assert!(err.contains("sqlite manifest") && err.contains("page lists"), "{err}");
    let out = run(cairn(&c.repo).arg("check"));
    assert_eq!(out.status.code(), Some(3));
}

/// The root `src` directory with `inner` (any bytes) as its tree blob.
fn with_entries_raw(c: &Crafter, inner: Vec<u8>) -> String {
    c.snapshot(Tree { nodes: vec![dir(b"src", &inner)] }.encode(), vec![(ObjectKind::Tree, inner)])
}

/// A config whose chunker parameters fastcdc would assert on: refused when
/// the repository is opened, before anything reads or writes.
#[test]
fn invalid_chunker_parameters_in_the_config() {
    let c = Crafter::new();
    let mut cfg = cairn::repo::config::Config::new(Default::default(), 3, 1 << 20).unwrap();
    cfg.chunker = cairn::chunker::ChunkerParams { min: 0, avg: 1, max: 2 };
    let bytes = cfg.encode(&c.sealer);
    fs::write(c.repo.join("config"), bytes).unwrap();
    let before = digest(&c.repo);
    let src = c.scratch().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), vec![1u8; 100_000]).unwrap();
    for args in [vec!["backup", src.to_str().unwrap()], vec!["snapshots"], vec!["check"]] {
        let (code, err) = fails(cairn(&c.repo).args(&args));
        assert_ne!(code, 101, "{args:?} panicked");
        one_line(&err);
        assert!(err.contains("config") && err.contains("chunk sizes"), "{args:?}: {err}");
    }
    assert_eq!(digest(&c.repo), before);
}

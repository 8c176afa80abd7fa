//! An independent reader written from format-spec/ alone (no cairn decoding
//! code): it opens the golden fixtures, decodes config, index files, packs,
//! the snapshot and its trees byte by byte — for format 4 the Chroma
//! manifest, its SQLite manifest, page lists and record-split HNSW file,
//! for format 5 also frames and list patches — and rebuilds every file,
//! which must match the fixture's expected listing. If the code and the
//! spec ever disagree, this test fails.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

struct Cur<'a>(&'a [u8], usize);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.0[self.1..self.1 + n];
        self.1 += n;
        s
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn id(&mut self) -> [u8; 32] {
        self.take(32).try_into().unwrap()
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.u64() as usize;
        self.take(n)
    }
    fn string(&mut self) -> String {
        String::from_utf8(self.bytes().to_vec()).unwrap()
    }
    fn ids(&mut self) -> Vec<[u8; 32]> {
        (0..self.u64()).map(|_| self.id()).collect()
    }
    fn done(&self) -> bool {
        self.1 == self.0.len()
    }
}

/// Open a sealed envelope of the expected kind (format-spec/objects.md).
fn open(env: &[u8], kind: u8) -> Vec<u8> {
    let body = &env[..env.len() - 16];
    assert_eq!(&blake3::hash(body).as_bytes()[..16], &env[env.len() - 16..], "check");
    assert_eq!((env[0], env[1], env[3]), (1, kind, 0), "header");
    let raw_len = u32::from_le_bytes(env[4..8].try_into().unwrap()) as usize;
    let raw = match env[2] {
        0 => body[8..].to_vec(),
        1 => zstd::bulk::decompress(&body[8..], raw_len).unwrap(),
        c => panic!("codec {c}"),
    };
    assert_eq!(raw.len(), raw_len);
    raw
}

struct Loc {
    pack: String,
    offset: usize,
    length: usize,
    kind: u8,
}

fn blob(repo: &Path, index: &HashMap<[u8; 32], Loc>, id: &[u8; 32]) -> Vec<u8> {
    let l = &index[id];
    let pack = fs::read(repo.join("data").join(&l.pack[..2]).join(&l.pack)).unwrap();
    let mut raw = open(&pack[l.offset..l.offset + l.length], l.kind);
    if l.kind == 14 {
        // A frame (objects.md "Frames"): n, n lengths, the members; the
        // member is the one that hashes to the id.
        let mut c = Cur(&raw, 0);
        let lens: Vec<usize> = (0..c.u32()).map(|_| c.u32() as usize).collect();
        let members: Vec<&[u8]> = lens.iter().map(|&n| c.take(n)).collect();
        assert!(c.done(), "frame members end at its end");
        raw = members.into_iter().find(|m| blake3::hash(m).as_bytes() == id).expect("member in its frame").to_vec();
    }
    assert_eq!(blake3::hash(&raw).as_bytes(), id);
    raw
}

/// Id lists (sqlite.md "List patches"): the base lists' ids, cut or
/// extended to `count`, each patch's (index, id) entries applied in order.
fn resolve(
    repo: &Path,
    index: &HashMap<[u8; 32], Loc>,
    count: usize,
    lists: &[[u8; 32]],
    patches: &[[u8; 32]],
) -> Vec<[u8; 32]> {
    let mut ids: Vec<Option<[u8; 32]>> = listed(repo, index, lists).into_iter().map(Some).collect();
    ids.resize(count, None);
    for p in patches {
        assert_eq!(index[p].kind, 15, "a list patch");
        let raw = blob(repo, index, p);
        assert_eq!(raw.len() % 36, 0);
        for e in raw.chunks(36) {
            let i = u32::from_le_bytes(e[..4].try_into().unwrap()) as usize;
            if i < count {
                ids[i] = Some(e[4..].try_into().unwrap());
            }
        }
    }
    ids.into_iter().map(|i| i.expect("every position set")).collect()
}

/// An IdLists (chroma.md): count, base, lists, patches, patched.
fn id_lists(repo: &Path, index: &HashMap<[u8; 32], Loc>, c: &mut Cur) -> Vec<[u8; 32]> {
    let (count, _base, lists, patches, _patched) = (c.u64() as usize, c.u64(), c.ids(), c.ids(), c.u64());
    resolve(repo, index, count, &lists, &patches)
}

fn walk(
    repo: &Path,
    index: &HashMap<[u8; 32], Loc>,
    trees: &[[u8; 32]],
    prefix: &str,
    out: &mut Vec<(String, u32, i64, String)>,
) {
    for t in trees {
        let raw = blob(repo, index, t);
        let mut c = Cur(&raw, 0);
        for _ in 0..c.u64() {
            let name = String::from_utf8(c.bytes().to_vec()).unwrap();
            let kind = c.u32();
            let mode = c.u32();
            let (_uid, _gid, _size) = (c.u32(), c.u32(), c.u64());
            let mtime_ns = c.u64() as i64;
            let (_ctime, _ino, _dev) = (c.u64(), c.u64(), c.u64());
            let content = c.ids();
            let subtree = c.ids();
            let target = c.bytes().to_vec();
            let _flags = c.u8();
            let path = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let digest = match kind {
                0 => {
                    let mut h = blake3::Hasher::new();
                    for id in &content {
                        h.update(&blob(repo, index, id));
                    }
                    h.finalize().to_hex().to_string()
                }
                2 => String::from_utf8(target).unwrap(),
                _ => String::new(),
            };
            out.push((path.clone(), mode, mtime_ns, digest));
            if kind == 1 {
                walk(repo, index, &subtree, &path, out);
            }
        }
        assert!(c.done(), "trailing bytes in tree");
    }
}

/// Every index file, checked against its name and against each pack's
/// trailer: blob id → where it is.
fn load_index(repo: &Path) -> HashMap<[u8; 32], Loc> {
    let mut index = HashMap::new();
    for f in fs::read_dir(repo.join("index")).unwrap() {
        let f = f.unwrap();
        let bytes = fs::read(f.path()).unwrap();
        assert_eq!(blake3::hash(&bytes).to_hex().as_str(), f.file_name().to_str().unwrap());
        let raw = open(&bytes, 3);
        let mut c = Cur(&raw, 0);
        for _ in 0..c.u64() {
            let pack = hex::encode(c.id());
            let packfile = fs::read(repo.join("data").join(&pack[..2]).join(&pack)).unwrap();
            assert_eq!(blake3::hash(&packfile).to_hex().as_str(), pack);
            assert_eq!((&packfile[..8], &packfile[packfile.len() - 4..]), (&b"CAIRNPK1"[..], &b"CPKE"[..]));
            let t = u32::from_le_bytes(packfile[packfile.len() - 8..packfile.len() - 4].try_into().unwrap()) as usize;
            let trailer = open(&packfile[packfile.len() - 8 - t..packfile.len() - 8], 6);
            let listed = Cur(&trailer, 0).u64();
            let n = c.u64();
            assert_eq!(listed, n, "trailer and index list the same blobs");
            for _ in 0..n {
                let (id, kind, offset, length, _raw) = (c.id(), c.u8(), c.u32(), c.u32(), c.u32());
                index.insert(id, Loc { pack: pack.clone(), offset: offset as usize, length: length as usize, kind });
            }
        }
        assert!(c.done());
    }
    index
}

#[test]
fn independent_reader_decodes_the_golden_fixture() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-v1");
    // Format 1 (plaintext); encrypted objects are covered by
    // format-spec/encryption.md and tests/golden.rs.
    let repo = fixture.join("repo");

    let cfg = fs::read(repo.join("config")).unwrap();
    assert_eq!(&cfg[..8], b"CAIRNCFG");
    assert_eq!(u32::from_le_bytes(cfg[8..12].try_into().unwrap()), 1);
    let body = open(&cfg[12..], 5);
    let mut c = Cur(&body, 0);
    assert_eq!(c.u32(), 1);
    c.id();
    assert_eq!((c.u32(), c.u32(), c.u32()), (4096, 16384, 65536));
    let (_level, pack_size, _created) = (c.u32(), c.u32(), c.u64());
    assert_eq!(pack_size, 65536);
    assert!(c.done());

    let index = load_index(&repo);

    let snaps: Vec<_> = fs::read_dir(repo.join("snapshots")).unwrap().map(|e| e.unwrap()).collect();
    assert_eq!(snaps.len(), 1);
    let raw = open(&fs::read(snaps[0].path()).unwrap(), 4);
    assert_eq!(blake3::hash(&raw).to_hex().as_str(), snaps[0].file_name().to_str().unwrap());
    let mut c = Cur(&raw, 0);
    assert_eq!(c.u32(), 1);
    assert_eq!(c.u64() as i64, 1_767_323_045_000_000_000); // 2026-01-02T03:04:05Z
    assert_eq!(c.string(), "golden");
    c.string();
    let tags: Vec<String> = (0..c.u64()).map(|_| c.string()).collect();
    assert_eq!(tags, ["fixture"]);
    let sources: Vec<(u32, String)> = (0..c.u64()).map(|_| (c.u32(), c.string())).collect();
    assert_eq!(sources.len(), 1);
    assert!(sources[0].1.ends_with("/golden-data"));
    let tree = c.ids();
    assert_eq!(c.u8(), 0, "no parent");
    let (files, _dirs, _links, _bytes) = (c.u64(), c.u64(), c.u64(), c.u64());
    c.take(16);
    assert!(c.done());

    let mut out = Vec::new();
    walk(&repo, &index, &tree, "", &mut out);
    let mut want = expected_listing(&fixture, "golden-data/");
    want.insert(0, out[0].clone()); // the source directory itself
    out.sort();
    want.sort();
    assert_eq!(out, want);
    assert_eq!(files as usize, want.iter().filter(|w| w.3.len() == 64).count());
}

/// A fixture's `expected.json` as (path with `prefix`, mode, mtime ns,
/// BLAKE3 or link target).
fn expected_listing(fixture: &Path, prefix: &str) -> Vec<(String, u32, i64, String)> {
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&fs::read_to_string(fixture.join("expected.json")).unwrap()).unwrap();
    expected
        .iter()
        .map(|e| {
            let m = e["mtime"].as_array().unwrap();
            let ns = m[0].as_i64().unwrap() * 1_000_000_000 + m[1].as_i64().unwrap();
            let content = e["content"].as_str().unwrap().to_string();
            (format!("{prefix}{}", e["path"].as_str().unwrap()), e["mode"].as_u64().unwrap() as u32, ns, content)
        })
        .collect()
}

/// The ids of a page-list blob (sqlite.md): 32-byte ids back to back.
fn id_list(raw: &[u8]) -> Vec<[u8; 32]> {
    assert_eq!(raw.len() % 32, 0);
    raw.chunks(32).map(|c| c.try_into().unwrap()).collect()
}

fn listed(repo: &Path, index: &HashMap<[u8; 32], Loc>, lists: &[[u8; 32]]) -> Vec<[u8; 32]> {
    lists.iter().flat_map(|l| id_list(&blob(repo, index, l))).collect()
}

/// A SQLite manifest (sqlite.md) → the database's bytes.
fn sqlite_bytes(repo: &Path, index: &HashMap<[u8; 32], Loc>, id: &[u8; 32]) -> Vec<u8> {
    let raw = blob(repo, index, id);
    let mut c = Cur(&raw, 0);
    let (page_size, page_count) = (c.u32() as usize, c.u64() as usize);
    let lists = c.ids();
    c.string(); // journal_mode
    c.u64(); // user_version
    c.u64(); // schema_version
    for _ in 0..c.u64() {
        c.string();
        if c.u8() == 1 {
            c.u64();
        }
    }
    c.u32(); // method
    match c.u32() {
        0 => {}
        1 => {
            c.u8();
        }
        _ => {
            c.string();
        }
    }
    c.u64(); // hold_ms
    c.string(); // sqlite_version
    assert_eq!(c.u8(), 0, "the fixture's pages use no dictionary");
    // Format 5 appends patches, base_pages and patched; format 4 ends here.
    let patches = if c.done() { vec![] } else { c.ids() };
    if !c.done() {
        let (_base, _patched) = (c.u64(), c.u64());
    }
    assert!(c.done());
    let pages = resolve(repo, index, page_count, &lists, &patches);
    assert_eq!(pages.len(), page_count);
    let out: Vec<u8> = pages.iter().flat_map(|p| blob(repo, index, p)).collect();
    assert_eq!(out.len(), page_size * page_count);
    out
}

#[test]
fn independent_reader_decodes_the_chroma_fixture() {
    read_chroma_fixture("golden-v4-chroma", 4, 1100);
}

#[test]
fn independent_reader_decodes_the_format_5_fixture() {
    read_chroma_fixture("golden-v5-frames", 5, 4004);
}

/// Decode the newest snapshot of a Chroma fixture of format `version`
/// whose collection then held `items`.
fn read_chroma_fixture(name: &str, version: u32, items: u64) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let repo = fixture.join("repo");
    let cfg = fs::read(repo.join("config")).unwrap();
    assert_eq!((&cfg[..8], u32::from_le_bytes(cfg[8..12].try_into().unwrap())), (&b"CAIRNCFG"[..], version));
    let body = open(&cfg[12..], 5);
    let mut c = Cur(&body, 0);
    assert_eq!(c.u32(), version);
    c.id();
    let (_min, _avg, _max, _level, _pack, _created) = (c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u64());
    assert_eq!(c.u32(), 0, "encryption None");
    assert!(c.done());
    let index = load_index(&repo);

    // The newest snapshot: the time follows the version.
    let snaps: Vec<_> =
        fs::read_dir(repo.join("snapshots")).unwrap().map(|e| open(&fs::read(e.unwrap().path()).unwrap(), 4)).collect();
    let raw = snaps.into_iter().max_by_key(|r| Cur(r, 4).u64()).unwrap();
    let mut c = Cur(&raw, 0);
    assert_eq!(c.u32(), 1);
    c.u64();
    assert_eq!(c.string(), "golden");
    c.string();
    (0..c.u64()).for_each(|_| drop(c.string()));
    let sources: Vec<(u32, String)> = (0..c.u64()).map(|_| (c.u32(), c.string())).collect();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].0, 2, "source kind 2: Chroma");
    let tree = c.ids();

    // The root tree: one node of kind 4 whose one content id is the manifest.
    let root = blob(&repo, &index, &tree[0]);
    let mut c = Cur(&root, 0);
    assert_eq!(c.u64(), 1);
    assert_eq!(c.bytes(), b"chroma");
    assert_eq!(c.u32(), 4, "node kind 4: Chroma");
    let (_mode, _uid, _gid, _size, _mtime, _ctime, _ino, _dev) =
        (c.u32(), c.u32(), c.u32(), c.u64(), c.u64(), c.u64(), c.u64(), c.u64());
    let content = c.ids();
    assert_eq!(content.len(), 1);
    assert_eq!(index[&content[0]].kind, 13, "blob kind 13: Chroma manifest");

    let raw = blob(&repo, &index, &content[0]);
    let mut c = Cur(&raw, 0);
    let mut out: Vec<(String, u32, i64, String)> = Vec::new();
    for _ in 0..c.u64() {
        let (name, manifest, mode, mtime) = (c.string(), c.id(), c.u32(), c.u64() as i64);
        let db = sqlite_bytes(&repo, &index, &manifest);
        out.push((name, mode, mtime, blake3::hash(&db).to_hex().to_string()));
    }
    for _ in 0..c.u64() {
        let (path, mode, mtime) = (c.string(), c.u32(), c.u64() as i64);
        out.push((path, mode, mtime, String::new()));
    }
    let mut split = 0;
    for _ in 0..c.u64() {
        let (path, mode, mtime, size) = (c.string(), c.u32(), c.u64() as i64, c.u64() as usize);
        let bytes = match c.u32() {
            0 => c.ids().iter().flat_map(|id| blob(&repo, &index, id)).collect::<Vec<u8>>(),
            v @ (1 | 3) => {
                let (stride, links, records, group) =
                    (c.u32() as usize, c.u32() as usize, c.u64() as usize, c.u32() as usize);
                let (link_ids, vector_ids) = if v == 1 {
                    let (link_lists, vector_lists) = (c.ids(), c.ids());
                    (listed(&repo, &index, &link_lists), listed(&repo, &index, &vector_lists))
                } else {
                    (id_lists(&repo, &index, &mut c), id_lists(&repo, &index, &mut c))
                };
                split += 1;
                let mut file = vec![0u8; records * stride];
                for (g, id) in link_ids.iter().enumerate() {
                    for (j, l) in blob(&repo, &index, id).chunks(links).enumerate() {
                        let at = (g * group + j) * stride;
                        file[at..at + links].copy_from_slice(l);
                    }
                }
                for (i, id) in vector_ids.iter().enumerate() {
                    file[i * stride + links..(i + 1) * stride].copy_from_slice(&blob(&repo, &index, id));
                }
                file
            }
            v => panic!("layout {v} in the fixture"),
        };
        assert_eq!(bytes.len(), size, "{path}");
        out.push((path, mode, mtime, blake3::hash(&bytes).to_hex().to_string()));
    }
    assert_eq!(split, 1, "data_level0.bin is split by record");
    let collections: Vec<(String, String, u64)> = (0..c.u64()).map(|_| (c.string(), c.string(), c.u64())).collect();
    assert_eq!((collections[0].1.as_str(), collections[0].2), ("scripts", items));
    let watermarks: Vec<(String, u64)> = (0..c.u64()).map(|_| (c.string(), c.u64())).collect();
    let vector_segments: Vec<String> = (0..c.u64()).map(|_| c.string()).collect();
    assert!(watermarks.iter().any(|w| w.0 == vector_segments[0] && w.1 > 0), "the HNSW segment has persisted");
    assert_eq!(c.u32(), 1, "attempts");
    assert!(c.done());

    let mut want = expected_listing(&fixture, "");
    out.sort();
    want.sort();
    assert_eq!(out, want);
}

/// Format 6: a stack snapshot (objects.md "Stack (version 2)") of a
/// database, a Redis server and files, read from the spec alone: the
/// version-2 layout, each component under its name in the root tree, the
/// Redis manifest (redis.md) reassembled into the RDB the fixture expects.
#[test]
fn independent_reader_decodes_the_format_6_stack_fixture() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-v6-stack");
    let repo = fixture.join("repo");
    let index = load_index(&repo);
    let snaps: Vec<_> = fs::read_dir(repo.join("snapshots")).unwrap().map(|e| e.unwrap()).collect();
    assert_eq!(snaps.len(), 1);
    let raw = open(&fs::read(snaps[0].path()).unwrap(), 4);
    let mut c = Cur(&raw, 0);
    assert_eq!(c.u32(), 2, "snapshot version 2");
    c.u64();
    assert_eq!(c.string(), "golden");
    c.string();
    (0..c.u64()).for_each(|_| drop(c.string()));
    let sources: Vec<(u32, String)> = (0..c.u64()).map(|_| (c.u32(), c.string())).collect();
    let tree = c.ids();
    assert_eq!(c.u8(), 0, "no parent");
    (0..4).for_each(|_| {
        c.u64();
    });
    c.take(16);
    assert_eq!(c.u8(), 1, "stack: Some");
    assert_eq!(c.string(), "golden");
    let n = c.u64() as usize;
    assert_eq!(n, sources.len());
    let mut names = Vec::new();
    for source in &sources {
        let (name, kind, location) = (c.string(), c.u32(), c.string());
        assert_eq!((kind, &location), (source.0, &source.1), "components follow the sources");
        let (_start, _duration) = (c.u64(), c.u64());
        if c.u8() == 1 {
            c.u64();
        }
        let (_method, _bytes, _read) = (c.string(), c.u64(), c.u64());
        names.push((name, kind));
    }
    assert!(c.done());
    assert_eq!(names, [("cache".to_string(), 3), ("projects".to_string(), 1), ("scripts".to_string(), 0)]);

    // The root tree: the components by name (sorted), node kinds 5 Redis, 3 SQLite, 1 directory.
    let mut out = Vec::new();
    walk(&repo, &index, &tree, "", &mut out);
    let top: Vec<&str> = out.iter().map(|o| o.0.as_str()).filter(|p| !p.contains('/')).collect();
    assert_eq!(top, ["cache", "projects", "scripts"]);
    let root = blob(&repo, &index, &tree[0]);
    let mut c = Cur(&root, 0);
    assert_eq!(c.u64(), 3);
    assert_eq!(c.bytes(), b"cache");
    assert_eq!(c.u32(), 5, "node kind 5: Redis");
    (0..3).for_each(|_| {
        c.u32();
    });
    (0..5).for_each(|_| {
        c.u64();
    });
    let content = c.ids();
    assert_eq!(index[&content[0]].kind, 16, "blob kind 16: Redis manifest");
    let m = blob(&repo, &index, &content[0]);
    let mut c = Cur(&m, 0);
    let (_url, _server, _rdb_version, size, chunks) = (c.string(), c.string(), c.u32(), c.u64(), c.ids());
    let rdb: Vec<u8> = chunks.iter().flat_map(|id| blob(&repo, &index, id)).collect();
    assert_eq!(rdb.len() as u64, size);
    assert_eq!(&rdb[..5], b"REDIS");
    let want: Vec<(String, u64, String)> =
        serde_json::from_str(&fs::read_to_string(fixture.join("expected.json")).unwrap()).unwrap();
    let dump = want.iter().find(|w| w.0 == "cache/dump.rdb").unwrap();
    assert_eq!(blake3::hash(&rdb).to_hex().as_str(), dump.2);
    let files: Vec<_> = out
        .iter()
        .filter(|o| o.0.starts_with("scripts/") && o.3.len() == 64)
        .map(|o| (o.0.clone(), o.3.clone()))
        .collect();
    let want_files: Vec<_> =
        want.iter().filter(|w| w.0.starts_with("scripts/")).map(|w| (w.0.clone(), w.2.clone())).collect();
    assert_eq!(files, want_files);
}

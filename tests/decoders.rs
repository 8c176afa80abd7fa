//! Decoder fuzzing on stable Rust: every decoder of stored bytes gets
//! 10,000 inputs — valid objects with bytes flipped, cut short or extended,
//! and random bytes — and must return (Ok or an error) without panicking
//! and without any single allocation larger than the input justifies.
//!
//! A counting global allocator records the largest allocation made on the
//! test's thread while a decoder runs. The bound: 32768 × the input (zstd's
//! most a frame can expand, `format::ZSTD_MAX_EXPANSION`, for envelopes)
//! plus 1 MiB (serde's cap on preallocating a sequence) and a page.

use cairn::format::ObjectKind;
use cairn::pack::index::{IndexFile, IndexPack};
use cairn::pack::{finish_pack, new_pack_buffer, BlobEntry};
use cairn::seal::crypto::{Cipher, KdfParams, MasterKey};
use cairn::seal::Sealer;
use cairn::Id;
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Arc, OnceLock};

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    if ARMED.with(Cell::get) {
        LARGEST.with(|l| l.set(l.get().max(size)));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Run `decode` on `input`; panics (failing the case) if it allocated more
/// than `input` justifies. Its own panics fail the case too.
fn decode_bounded<T>(input: &[u8], decode: impl FnOnce(&[u8]) -> T) {
    LARGEST.with(|l| l.set(0));
    ARMED.with(|a| a.set(true));
    let r = decode(input);
    ARMED.with(|a| a.set(false));
    drop(r);
    let largest = LARGEST.with(Cell::get);
    let bound = input.len() * cairn::format::ZSTD_MAX_EXPANSION + (1 << 20) + 4096;
    assert!(largest <= bound, "allocated {largest} bytes decoding {} bytes (bound {bound})", input.len());
}

/// Valid bytes, then flips, a cut and an extension; or random bytes.
fn mutated(valid: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = valid.len();
    let edited = (
        0..n,
        proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        proptest::option::of(any::<prop::sample::Index>()),
        proptest::collection::vec(any::<u8>(), 0..3),
    )
        .prop_map(move |(i, flips, cut, extra)| {
            let mut b = valid[i].clone();
            if !b.is_empty() {
                for (at, x) in flips {
                    let at = at.index(b.len());
                    b[at] ^= x;
                }
            }
            if let Some(c) = cut {
                b.truncate(c.index(b.len() + 1));
            }
            b.extend(extra);
            b
        });
    prop_oneof![4 => edited, 1 => proptest::collection::vec(any::<u8>(), 0..600)]
}

fn cfg() -> ProptestConfig {
    ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() }
}

fn key() -> Arc<MasterKey> {
    static K: OnceLock<Arc<MasterKey>> = OnceLock::new();
    K.get_or_init(|| Arc::new(MasterKey::random())).clone()
}

fn node(name: &str, kind: cairn::format::tree::NodeKind, content: Vec<Id>) -> cairn::format::tree::Node {
    let mut n = cairn::format::tree::Node::new(name.as_bytes(), kind);
    (n.size, n.mtime_ns, n.inode, n.content) = (10, 5, 7, content);
    if kind == cairn::format::tree::NodeKind::Symlink {
        n.target = b"t".to_vec();
    }
    n
}

fn trees() -> Vec<Vec<u8>> {
    use cairn::format::tree::{NodeKind, Tree};
    vec![
        Tree { nodes: vec![node("a", NodeKind::File, vec![Id::hash(b"1"), Id::hash(b"2")])] }.encode(),
        Tree {
            nodes: vec![
                node("a", NodeKind::Symlink, vec![]),
                node("b", cairn::source::sqlite::NODE_KIND, vec![Id::hash(b"m")]),
            ],
        }
        .encode(),
    ]
}

fn entries() -> Vec<BlobEntry> {
    (0..3u32)
        .map(|i| BlobEntry {
            id: Id::hash(&i.to_le_bytes()),
            kind: 1,
            offset: 24 + i * 100,
            length: 90,
            raw_length: 200,
        })
        .collect()
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn envelope(b in mutated(vec![
        Sealer::new(3).seal(ObjectKind::Data, &b"compressible ".repeat(50)),
        Sealer::new(0).seal(ObjectKind::Tree, b"plain"),
        Sealer::encrypted(3, key(), Cipher::Xaes256Gcm).seal(ObjectKind::Data, &b"secret ".repeat(40)),
    ])) {
        decode_bounded(&b, |b| Sealer::new(3).unseal(ObjectKind::Data, b));
        decode_bounded(&b, |b| Sealer::encrypted(3, key(), Cipher::Xaes256Gcm).unseal(ObjectKind::Data, b));
    }

    #[test]
    fn pack_trailer(b in mutated({
        let s = Sealer::new(3);
        let mut body = new_pack_buffer(vec![], 0);
        let mut es = vec![];
        for d in [&b"one"[..], b"two two"] {
            let sealed = s.seal(ObjectKind::Data, d);
            es.push(BlobEntry { id: Id::hash(d), kind: 1, offset: body.len() as u32, length: sealed.len() as u32, raw_length: d.len() as u32 });
            body.extend_from_slice(&sealed);
        }
        vec![finish_pack(body, &es, &s).1]
    })) {
        decode_bounded(&b, |b| cairn::pack::parse_trailer(b, &Sealer::new(3)));
    }

    #[test]
    fn index_file(b in mutated(vec![IndexFile { packs: vec![IndexPack { id: Id::hash(b"p"), blobs: entries() }] }.encode()])) {
        decode_bounded(&b, IndexFile::decode);
    }

    #[test]
    fn tree(b in mutated(trees())) {
        decode_bounded(&b, cairn::format::tree::Tree::decode);
    }

    #[test]
    fn drill_record(b in mutated(vec![cairn::format::drill::DrillRecord {
        version: 1, time_ns: 5, hostname: "h".into(), stack: "app".into(), snapshot: Id::hash(b"s"), scenario: 1,
        ok: false, total_us: 9, rto_s: 3600,
        components: vec![cairn::format::drill::DrillComponent { name: "db".into(), restore_us: 4, age_s: 2, ok: false }],
        misses: vec!["db: over its RTO".into()],
    }.encode()])) {
        decode_bounded(&b, cairn::format::drill::DrillRecord::decode);
    }

    /// The RDB walker of `--redis-target` (any bytes after the header).
    #[test]
    fn rdb_entries(b in mutated(vec![valid_rdb()])) {
        decode_bounded(&b, |b| cairn::source::redis::entries::split(b, 10));
    }

    #[test]
    fn snapshot(b in mutated(vec![cairn::format::snapshot::Snapshot {
        version: 1, time_ns: 1, hostname: "h".into(), username: "u".into(), tags: vec!["t".into()],
        sources: vec![cairn::format::snapshot::Source { kind: cairn::source::sqlite::KIND, path: "/x".into() }],
        tree: vec![Id::hash(b"t")], parent: Some(Id::hash(b"p")), summary: Default::default(), nonce: [1; 16], stack: None,
    }.encode(), stack_snapshot().encode()])) {
        decode_bounded(&b, cairn::format::snapshot::Snapshot::decode);
    }

    #[test]
    fn sqlite_manifest(b in mutated(vec![cairn::source::sqlite::manifest::SqliteManifest {
        page_size: 4096, page_count: 3000, page_lists: vec![Id::hash(b"1"), Id::hash(b"2")],
        journal_mode: "wal".into(), user_version: 1, schema_version: 2,
        tables: vec![cairn::source::sqlite::manifest::TableRows { name: "t".into(), rows: Some(3) }],
        method: cairn::source::sqlite::manifest::CaptureMethod::Dbpage,
        integrity: cairn::source::sqlite::manifest::Integrity::Failed("x".into()), hold_ms: 3,
        sqlite_version: "3".into(), dictionary: Some(Id::hash(b"d")),
        patches: vec![Id::hash(b"p")], base_pages: 2100, patched: 40,
    }.encode(cairn::format::REPO_VERSION)])) {
        decode_bounded(&b, |b| cairn::source::sqlite::manifest::SqliteManifest::decode(&Id::default(), b));
    }

    #[test]
    fn page_list(b in mutated(vec![(0..5u8).flat_map(|i| Id::hash(&[i]).0).collect()]), want in 0usize..8) {
        decode_bounded(&b, |b| cairn::source::sqlite::manifest::decode_page_list(&Id::default(), b, want));
    }

    #[test]
    fn list_patch(b in mutated(vec![cairn::source::idlist::encode_patch(&[(3, Id::hash(b"a")), (9, Id::hash(b"b"))])])) {
        decode_bounded(&b, |b| cairn::source::idlist::decode_patch(&Id::default(), b));
    }

    #[test]
    fn frame(b in mutated(vec![cairn::pack::frame::encode(&[b"page one", b"page two", b""])])) {
        decode_bounded(&b, |b| cairn::pack::frame::Frame::parse(b.to_vec(), &cairn::seal::Sealer::new(3)).map(|_| ()));
    }

    #[test]
    fn key_file(b in mutated(vec![cairn::seal::keyfile::create(
        &MasterKey::random(), b"pw", KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 }, "host", "user",
    ).unwrap()])) {
        decode_bounded(&b, cairn::seal::keyfile::KeyFile::parse);
    }

    #[test]
    fn config(b in mutated({
        let c = cairn::repo::config::Config::new(Default::default(), 3, 1 << 20).unwrap();
        let mut e = c.clone();
        e.encryption = cairn::repo::config::Encryption::Xaes256Gcm;
        vec![c.encode(&Sealer::new(0)), e.encode(&e.sealer(Some(key())))]
    })) {
        decode_bounded(&b, |b| cairn::repo::config::Config::decode(b, None));
        decode_bounded(&b, |b| cairn::repo::config::Config::decode(b, Some(key())));
    }

    #[test]
    fn retention_policy(b in mutated(vec![cairn::retention::encode_saved(&cairn::retention::Policy::guide(), 5)])) {
        decode_bounded(&b, cairn::retention::decode_saved);
    }

    #[test]
    fn deletion_marks(b in mutated(vec![cairn::format::decode::encode(&cairn::repo::marks::DeletionMarks {
        packs: vec![(Id::hash(b"a"), 1), (Id::hash(b"b"), 2)],
    })])) {
        decode_bounded(&b, cairn::format::decode::decode::<cairn::repo::marks::DeletionMarks>);
    }
}

/// The bound can fail: an envelope recording a 4 GiB plaintext in a few
/// bytes is refused before anything of that size is allocated.
#[test]
fn a_lying_length_is_refused_before_allocating() {
    let mut b = Sealer::new(3).seal(ObjectKind::Data, &b"x".repeat(1000));
    assert_eq!(b[2], cairn::format::CODEC_ZSTD);
    b[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let body = b.len() - 16;
    let check = blake3::hash(&b[..body]);
    b[body..].copy_from_slice(&check.as_bytes()[..16]);
    decode_bounded(&b, |b| assert!(Sealer::new(3).unseal(ObjectKind::Data, b).is_err()));
}

/// A version-2 snapshot: one component.
fn stack_snapshot() -> cairn::format::snapshot::Snapshot {
    use cairn::format::snapshot::*;
    Snapshot {
        version: STACK_VERSION,
        time_ns: 1,
        hostname: "h".into(),
        username: "u".into(),
        tags: vec![],
        sources: vec![Source { kind: cairn::source::sqlite::KIND, path: "/x".into() }],
        tree: vec![Id::hash(b"t")],
        parent: None,
        summary: Default::default(),
        nonce: [2; 16],
        stack: Some(Stack {
            name: "app".into(),
            components: vec![Component {
                name: "projects".into(),
                kind: cairn::source::sqlite::KIND,
                location: "/x".into(),
                start_ns: 5,
                duration_us: 7,
                hold_us: Some(3),
                method: "Dbpage".into(),
                bytes: 4096,
                bytes_read: 4096,
            }],
        }),
    }
}

#[test]
fn stack_snapshots_round_trip_and_plain_ones_keep_their_bytes() {
    let s = stack_snapshot();
    let b = s.encode();
    assert_eq!(cairn::format::snapshot::Snapshot::decode(&b).unwrap(), s);
    let plain = cairn::format::snapshot::Snapshot { version: 1, stack: None, ..s.clone() };
    let pb = plain.encode();
    // Version 1 ends at the nonce, as before format 6.
    assert_eq!(&pb[pb.len() - 16..], &[2u8; 16]);
    assert_eq!(cairn::format::snapshot::Snapshot::decode(&pb).unwrap(), plain);
    // A version that does not match its stack is refused.
    let mut wrong = b.clone();
    wrong[..4].copy_from_slice(&1u32.to_le_bytes());
    assert!(cairn::format::snapshot::Snapshot::decode(&wrong).is_err());
}

/// An RDB with a string, a set, a hash, a zset and an expiry, in two databases.
fn valid_rdb() -> Vec<u8> {
    let mut b = b"REDIS0010".to_vec();
    b.extend_from_slice(&[0xFA, 1, b'a', 1, b'b', 0xFE, 0, 0xFB, 2, 1, 0xFC]);
    b.extend_from_slice(&1_900_000_000_000i64.to_le_bytes());
    b.extend_from_slice(&[0, 1, b'k', 0xC3, 2, 3, 1, b'x', b'y']);
    b.extend_from_slice(&[2, 1, b's', 2, 1, b'a', 0xC1, 1, 0]);
    b.extend_from_slice(&[0xFE, 3, 4, 1, b'h', 1, 1, b'f', 1, b'v', 5, 1, b'z', 1, 1, b'm']);
    b.extend_from_slice(&1.5f64.to_le_bytes());
    b.push(0xFF);
    b.extend_from_slice(&[0; 8]);
    b
}

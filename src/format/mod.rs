//! Every magic number and format constant of the repository, in one place.
//!
//! `format-spec/` documents each of these; `check_constants` runs before the
//! first object is written so a mistaken edit here can never reach a disk.
//! `decode` is the one decoder of structured bytes read from storage.

pub mod decode;
pub mod drill;
pub mod error;
pub mod id;
pub mod snapshot;
pub mod tree;

pub use error::FormatError;
pub use id::Id;

/// Repository format version written by this build. Readers refuse a larger
/// one. Versions 1 (plaintext only), 2 (no XAES-256-GCM), 3 (no Chroma
/// nodes), 4 (no frames, no list patches) and 5 (no Redis nodes) are still
/// read, and written in their own format.
pub const REPO_VERSION: u32 = 6;

/// The first version whose repositories hold frames and list patches.
pub const FRAMES_VERSION: u32 = 5;

/// First 8 bytes of the `config` object; the format version follows in plaintext
/// so that an older reader can refuse a newer repository before decoding anything.
pub const CONFIG_MAGIC: &[u8; 8] = b"CAIRNCFG";

/// First 8 bytes of every pack file.
pub const PACK_MAGIC: &[u8; 8] = b"CAIRNPK1";
/// Random bytes after the pack magic: makes every pack name unique, even when
/// two processes pack identical chunks in identical order.
pub const PACK_NONCE_LEN: usize = 16;
/// Pack header = magic + nonce.
pub const PACK_HEADER_LEN: usize = PACK_MAGIC.len() + PACK_NONCE_LEN;
/// Last 4 bytes of every pack file, after the 4-byte trailer length.
pub const PACK_END_MAGIC: &[u8; 4] = b"CPKE";
/// Footer = trailer length (u32 LE) + end magic.
pub const PACK_FOOTER_LEN: usize = 8;

/// Version byte at offset 0 of every sealed envelope.
pub const SEAL_VERSION: u8 = 1;
/// Version byte of an envelope encrypted with XChaCha20-Poly1305
/// (format-spec/encryption.md).
pub const SEAL_VERSION_XCHACHA: u8 = 2;
/// Version byte of an envelope encrypted with XAES-256-GCM.
pub const SEAL_VERSION_XAES: u8 = 3;
/// Envelope header: version, kind, codec, reserved, raw length (u32 LE).
pub const SEAL_HEADER_LEN: usize = 8;
/// Truncated BLAKE3 of header + payload, appended to every envelope.
pub const SEAL_CHECK_LEN: usize = 16;
/// Codec byte: payload stored as is.
pub const CODEC_NONE: u8 = 0;
/// Codec byte: payload is one zstd frame.
pub const CODEC_ZSTD: u8 = 1;
/// Codec byte: payload is an 8-byte dictionary tag, then one zstd frame
/// made with that dictionary (format 3, format-spec/sqlite.md).
pub const CODEC_ZSTD_DICT: u8 = 2;

/// A zstd frame cannot expand its input more than this: the densest block
/// is a 3-byte header and one byte repeated into 128 KiB (RLE), so a payload
/// of N bytes decodes to at most N / 4 × 128 KiB. An envelope recording a
/// longer plaintext is refused before anything is allocated for it.
pub const ZSTD_MAX_EXPANSION: usize = (128 << 10) / 4;

/// A frame (format-spec/objects.md, "Frames") is closed once its members
/// add up to this many bytes: measured on a 186 MB text-heavy SQLite
/// database, pages compressed one by one with zstd -3 take 52.9 MB, in runs
/// of 16 KiB 43.9, 64 KiB 40.1, 128 KiB 39.0, 256 KiB 38.2 and the whole
/// file 37.5. On the 52 MB database of tests/frames.rs the repository is
/// 1.133 × restic's with 128 KiB frames and 1.112 × with 256 KiB; a restore
/// reads whole packs anyway, so only a single page read pays the larger frame.
pub const FRAME_TARGET: usize = 256 << 10;
/// Chunks up to this size are stored in frames by the sources that ask for it.
pub const FRAME_MEMBER_MAX: usize = 16 << 10;
/// A frame holds at most this many members (bounds the length table a
/// reader parses; frames of tiny chunks close here before `FRAME_TARGET`).
pub const FRAME_MAX_MEMBERS: usize = 8192;

/// Largest object the sealing step accepts (raw length is a u32).
pub const MAX_SEALED_RAW: usize = u32::MAX as usize;

/// Tree objects hold at most this many entries; a directory with more is cut
/// into several tree objects at content-defined entry boundaries.
pub const TREE_MAX_ENTRIES: usize = 4096;
/// Minimum entries before a content-defined tree cut is allowed.
pub const TREE_MIN_ENTRIES: usize = 64;
/// A cut falls after an entry whose name hash has these low bits all zero
/// (on average one cut per 512 entries).
pub const TREE_CUT_MASK: u64 = 511;

/// An index file lists at most this many blobs (about 1.6 MB of plaintext).
pub const MAX_INDEX_BLOBS: usize = 32 * 1024;

/// Object-key prefixes in the backend.
pub const KEY_CONFIG: &str = "config";
pub const PREFIX_DATA: &str = "data/";
pub const PREFIX_INDEX: &str = "index/";
pub const PREFIX_SNAPSHOTS: &str = "snapshots/";
pub const PREFIX_KEYS: &str = "keys/";
/// `protected/<snapshot id>`: protected snapshots (format 3).
pub const PREFIX_PROTECTED: &str = "protected/";
/// `marked/<random id>`: packs marked for deletion by prune (format 3).
pub const PREFIX_MARKED: &str = "marked/";
/// `dictionaries/<id>`: zstd dictionaries (format 3).
pub const PREFIX_DICTIONARIES: &str = "dictionaries/";
/// `policies/<random id>`: the repository's saved retention policy (format 3).
pub const PREFIX_POLICIES: &str = "policies/";
/// `drills/<random id>`: recovery drill results (format 6).
pub const PREFIX_DRILLS: &str = "drills/";
/// `quarantine/<pack id>`: damaged packs moved aside by `check --quarantine`
/// (format 6); no other command reads them.
pub const PREFIX_QUARANTINE: &str = "quarantine/";

/// Page ids per page-list blob of a SQLite manifest: 2048 × 32 bytes =
/// 64 KiB, so 4096 blobs list a 32 GiB database of 4 KiB pages and an
/// unchanged 8 MiB region shares its page-list blob with the previous snapshot.
pub const PAGE_LIST_IDS: usize = 2048;
/// Id lists (format 5, `source::idlist`) are written in full again once
/// their patches would hold more than 1 / `PATCH_FRACTION` of the ids, or
/// more than `MAX_PATCHES` patches. For scattered changes of p ids per
/// snapshot over lists of L ids, a cycle of k snapshots costs L + k·p ids
/// (full lists once, one patch each), so patches cut the list cost by
/// about k; the fraction bounds the superseded chunks full lists keep
/// alive to 1/8 of the ids, and the count how many patches a reader
/// applies (a day of hourly snapshots).
pub const PATCH_FRACTION: u64 = 8;
pub const MAX_PATCHES: usize = 24;
/// SQLite page sizes are powers of two in this range.
pub const SQLITE_PAGE_SIZE_LIMITS: (u32, u32) = (512, 65536);

/// Limits on chunker parameters accepted by fastcdc v2020.
pub const CHUNK_MIN_LIMITS: (u32, u32) = (64, 1 << 20);
pub const CHUNK_AVG_LIMITS: (u32, u32) = (256, 4 << 20);
pub const CHUNK_MAX_LIMITS: (u32, u32) = (1024, 16 << 20);

/// Kinds of sealed objects; the kind byte is checked on every read so one
/// object can never be mistaken for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum ObjectKind {
    Data = 1,
    Tree = 2,
    Index = 3,
    Snapshot = 4,
    Config = 5,
    PackTrailer = 6,
    /// A SQLite snapshot's manifest (format 3).
    SqliteManifest = 7,
    /// A run of page ids of a SQLite snapshot (format 3).
    PageList = 8,
    /// `protected/<snapshot id>`: the snapshot is never forgotten (format 3).
    Protection = 9,
    /// `marked/<id>`: packs marked for deletion, with the mark times (format 3).
    DeletionMarks = 10,
    /// `dictionaries/<id>`: a zstd dictionary for small chunks (format 3).
    Dictionary = 11,
    /// `policies/<id>`: the saved retention policy (format 3).
    Policy = 12,
    /// A Chroma directory snapshot's manifest (format 4).
    ChromaManifest = 13,
    /// A frame: several small data chunks sealed together (format 5). In
    /// pack trailers and index files each member has its own entry naming
    /// the frame's span.
    Frame = 14,
    /// Changes to an id list since its full lists (format 5).
    ListPatch = 15,
    /// A Redis snapshot's manifest (format 6).
    RedisManifest = 16,
    /// `drills/<id>`: the result of one recovery drill (format 6).
    DrillRecord = 17,
}

impl ObjectKind {
    /// Metadata stored in packs (trees, source manifests, id lists): what a
    /// metadata cache keeps, unlike file contents and frames of pages.
    pub fn is_metadata(self) -> bool {
        use ObjectKind::*;
        matches!(self, Tree | SqliteManifest | PageList | ChromaManifest | ListPatch | RedisManifest)
    }
}

/// The kinds stored as blobs in packs, in a fixed order: the in-memory
/// index records a blob's kind as its position here (4 bits), not as its
/// kind byte, so kind bytes may grow past 15.
pub const BLOB_KINDS: [ObjectKind; 8] = [
    ObjectKind::Data,
    ObjectKind::Tree,
    ObjectKind::SqliteManifest,
    ObjectKind::PageList,
    ObjectKind::ChromaManifest,
    ObjectKind::Frame,
    ObjectKind::ListPatch,
    ObjectKind::RedisManifest,
];

impl ObjectKind {
    /// Position in `BLOB_KINDS`, for a blob kind.
    pub fn blob_code(self) -> Option<u8> {
        BLOB_KINDS.iter().position(|k| *k == self).map(|p| p as u8)
    }
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Data,
            2 => Self::Tree,
            3 => Self::Index,
            4 => Self::Snapshot,
            5 => Self::Config,
            6 => Self::PackTrailer,
            7 => Self::SqliteManifest,
            8 => Self::PageList,
            9 => Self::Protection,
            10 => Self::DeletionMarks,
            11 => Self::Dictionary,
            12 => Self::Policy,
            13 => Self::ChromaManifest,
            14 => Self::Frame,
            15 => Self::ListPatch,
            16 => Self::RedisManifest,
            17 => Self::DrillRecord,
            _ => return None,
        })
    }
    /// Kinds stored as blobs inside packs (listed in pack trailers and index files).
    pub fn is_blob(self) -> bool {
        self.blob_code().is_some()
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Tree => "tree",
            Self::Index => "index",
            Self::Snapshot => "snapshot",
            Self::Config => "config",
            Self::PackTrailer => "pack-trailer",
            Self::SqliteManifest => "sqlite-manifest",
            Self::PageList => "page-list",
            Self::Protection => "protection",
            Self::DeletionMarks => "deletion-marks",
            Self::Dictionary => "dictionary",
            Self::Policy => "policy",
            Self::ChromaManifest => "chroma-manifest",
            Self::Frame => "frame",
            Self::ListPatch => "list-patch",
            Self::RedisManifest => "redis-manifest",
            Self::DrillRecord => "drill-record",
        }
    }
}

// Checked by the compiler.
const _: () = {
    assert!(PACK_HEADER_LEN == 24);
    assert!(SEAL_HEADER_LEN == 8);
    assert!(TREE_MIN_ENTRIES < TREE_MAX_ENTRIES);
    assert!((TREE_CUT_MASK + 1).is_power_of_two());
    assert!(SEAL_VERSION != SEAL_VERSION_XCHACHA && SEAL_VERSION != SEAL_VERSION_XAES);
    assert!(SEAL_VERSION_XCHACHA != SEAL_VERSION_XAES);
    assert!(FRAME_MEMBER_MAX < FRAME_TARGET && FRAME_TARGET <= MAX_SEALED_RAW);
    // The in-memory index keeps a blob kind's position in BLOB_KINDS in 4 bits.
    assert!(BLOB_KINDS.len() <= 16);
};

/// Checked once before anything is written (see `Repository::init`).
pub fn check_constants() {
    assert_ne!(PACK_MAGIC, CONFIG_MAGIC);
    for k in 1..=16u8 {
        assert_eq!(ObjectKind::from_u8(k).map(|k| k as u8), Some(k));
    }
}

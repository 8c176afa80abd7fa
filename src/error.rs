//! Error types, one per layer. Each variant names the object involved and, for
//! errors a user can act on, says what to do next.

use crate::backend::BackendError;
use std::path::PathBuf;

/// Decoding errors of the on-disk format (sealed envelopes, packs, bincode).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("object is truncated ({len} bytes)")]
    Truncated { len: usize },
    #[error("unsupported envelope version {0}")]
    EnvelopeVersion(u8),
    #[error("expected a {expected} object, found kind byte {found}")]
    WrongKind { expected: &'static str, found: u8 },
    #[error("unknown codec byte {0}")]
    Codec(u8),
    #[error("integrity check failed (object altered or damaged)")]
    Checksum,
    #[error("authentication failed: the object was altered, or it is not from this repository")]
    Authentication,
    #[error("object is encrypted but no key is loaded")]
    NeedKey,
    #[error("decompression failed: {0}")]
    Decompress(String),
    #[error("decompressed length {got} differs from recorded {want}")]
    Length { want: usize, got: usize },
    #[error("bad magic")]
    Magic,
    #[error("cannot decode: {0}")]
    Decode(String),
    #[error("content hash mismatch (expected {want}, got {got})")]
    HashMismatch { want: String, got: String },
    /// Decoded, but breaks a structural rule (`format::decode::Validate`).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The object that holds it does not exist (a deleted or lost pack).
    #[error("missing: {0}")]
    Missing(String),
}

/// Errors of repository operations (open, backup, restore, check).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path} is not a cairn repository (no config object): run `cairn init --repo {path}` first, or fix --repo / CAIRN_REPOSITORY")]
    NotARepository { path: String },
    #[error("{path} is not a cairn repository: its config object is not cairn's (a restic or other tool's repository?); give the path of a cairn repository")]
    NotCairn { path: String },
    #[error("{path} already holds files: `cairn init` needs an empty or missing directory")]
    AlreadyExists { path: String },
    #[error(
        "repository format version {found} is newer than this cairn supports ({supported}): upgrade cairn to read it"
    )]
    NewerFormat { found: u32, supported: u32 },
    #[error("no snapshot matches {0:?}: run `cairn snapshots` to list them")]
    SnapshotNotFound(String),
    #[error("snapshot id prefix {prefix:?} is ambiguous ({count} snapshots match): give more characters")]
    AmbiguousSnapshot { prefix: String, count: usize },
    #[error("the repository has no snapshots yet: run `cairn backup PATH` first")]
    NoSnapshots,
    #[error("cannot read source {}: {source}; fix the path or its permissions (no snapshot was written)", path.display())]
    SourceRead { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("restore target {} is not empty: choose an empty directory or pass --overwrite", .0.display())]
    TargetNotEmpty(PathBuf),
    #[error("cannot write restore target {}: {source}", path.display())]
    TargetWrite { path: PathBuf, source: std::io::Error },
    #[error("{kind} blob {id} is not in any index: run `cairn check`")]
    BlobNotIndexed { kind: &'static str, id: String },
    #[error("{object}: {source}")]
    Format { object: String, source: FormatError },
    #[error("repository storage is full while writing {key}: free space and run the command again (no snapshot was written)")]
    DiskFull { key: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("restore incomplete: {failed} of {total} entries failed; first: {first}")]
    RestoreIncomplete { failed: usize, total: usize, first: String },
    #[error("found {0} problem(s); see the lines above")]
    Damaged(usize),
    #[error("wrong password or no key matches (tried {tried}{damaged})")]
    WrongPassword { tried: String, damaged: String },
    #[error("the repository is encrypted: set CAIRN_PASSWORD, pass --password-file FILE (or CAIRN_PASSWORD_FILE), or run in a terminal")]
    PasswordRequired,
    #[error("the repository is encrypted but keys/ holds no usable key file; it cannot be unlocked")]
    NoKeys,
    #[error("no key file matches {0:?}: run `cairn key list`")]
    KeyNotFound(String),
    #[error("refusing to remove the last key: the repository could never be opened again; add another key first")]
    LastKey,
    #[error("the repository is not encrypted (created with --no-encryption), so it has no keys")]
    NotEncrypted,
    #[error("storing packs failed")]
    PackerFailed,
    #[error("path {0:?} is not in the snapshot")]
    PathNotInSnapshot(String),
    #[error(transparent)]
    Sqlite(#[from] crate::sqlite::SqliteError),
}

impl Error {
    pub fn format(object: impl Into<String>, source: FormatError) -> Self {
        Error::Format { object: object.into(), source }
    }

    /// Process exit code for this error (documented in the README): 3
    /// whenever stored data turned out damaged or missing, whichever
    /// command met it, so a script can tell damage from a usage mistake.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotARepository { .. } | Error::NotCairn { .. } => 10,
            Error::WrongPassword { .. } => 12,
            Error::Damaged(_)
            | Error::RestoreIncomplete { .. }
            | Error::Format { .. }
            | Error::BlobNotIndexed { .. }
            | Error::Sqlite(crate::sqlite::SqliteError::VerifyFailed { .. }) => 3,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

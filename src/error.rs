//! Error types, one per layer. Each variant names the object involved and, for
//! errors a user can act on, says what to do next.

use crate::backend::BackendError;
pub use crate::format::FormatError;
use std::path::PathBuf;

/// Errors of repository operations (open, backup, restore, check).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{path} is not a cairn repository (no config object): initialise one there first, or give the right location"
    )]
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
    #[error("restore target {} is not empty: choose an empty directory or allow overwriting", .0.display())]
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
    #[error("the repository is encrypted and no password was given")]
    PasswordRequired,
    #[error("the repository is encrypted but keys/ holds no usable key file; it cannot be unlocked")]
    NoKeys,
    #[error("no key file matches {0:?}: run `cairn key list`")]
    KeyNotFound(String),
    #[error("refusing to remove the last key: the repository could never be opened again; add another key first")]
    LastKey,
    #[error("the repository is not encrypted (created without encryption), so it has no keys")]
    NotEncrypted,
    #[error("{key}, which this backup reuses, was deleted by a prune meanwhile (the backup ran longer than prune's grace period); nothing was committed: run the backup again")]
    ReusedObjectDeleted { key: String },
    #[error("the policy keeps nothing: give it at least one rule with a count above 0")]
    PolicyKeepsNothing,
    #[error("a snapshot was named both by id and by a point in time: give one of them")]
    SnapshotTwice,
    #[error("snapshots of {count} different source sets were taken before {at}: name the source to say which")]
    AmbiguousSeries { count: usize, at: String },
    #[error("storing packs failed")]
    PackerFailed,
    #[error("path {0:?} is not in the snapshot")]
    PathNotInSnapshot(String),
    #[error("the drill missed {0} objective(s): see its report")]
    DrillFailed(usize),
    #[error("interrupted: stopped before finishing; nothing half-written was left")]
    Interrupted,
    /// A restore stopped by a signal, its temporary files removed.
    #[error("interrupted: {done} of {total} files restored and in place, no temporary file left; run the same restore with overwriting allowed to finish")]
    InterruptedRestore { done: u64, total: u64 },
    /// A backup stopped by a signal, after indexing what it stored.
    #[error("interrupted: no snapshot was written; {packs} pack(s) ({bytes} bytes) already stored were indexed, so the next backup reuses them")]
    InterruptedBackup { packs: u64, bytes: u64 },
    #[error("component {name}: {source}")]
    Component { name: String, source: Box<Error> },
    /// An error of one source kind (its module defines and words it).
    #[error("{0}")]
    Source(Box<dyn SourceError>),
}

/// The errors a source kind defines (`source::sqlite::SqliteError`, …): the
/// error layer knows only this, so sources sit above it.
pub trait SourceError: std::error::Error + Send + Sync + 'static {
    /// The process exit code (README): 3 for damage or failed verification.
    fn exit_code(&self) -> i32 {
        1
    }
}

/// Make `$t` a source error whose `$verify` variant (failed verification)
/// exits with 3 and every other with 1, convertible into `Error`.
macro_rules! source_error {
    ($t:ident, $verify:ident) => {
        impl $crate::error::SourceError for $t {
            fn exit_code(&self) -> i32 {
                match self {
                    $t::$verify { .. } => 3,
                    _ => 1,
                }
            }
        }
        impl From<$t> for $crate::Error {
            fn from(e: $t) -> Self {
                $crate::Error::Source(Box::new(e))
            }
        }
    };
}
pub(crate) use source_error;

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
            | Error::BlobNotIndexed { .. } => 3,
            Error::Source(e) => e.exit_code(),
            Error::Component { source, .. } => source.exit_code(),
            Error::DrillFailed(_) => 4,
            // Could not reach or authenticate: told apart, so a job can
            // page for the storage rather than for the data.
            Error::Backend(BackendError::Denied { .. }) => 13,
            Error::Backend(BackendError::NoBucket { .. }) => 14,
            Error::Backend(BackendError::Unreachable { .. }) => 15,
            // 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
            Error::Interrupted | Error::InterruptedBackup { .. } | Error::InterruptedRestore { .. } => 130,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Snapshot manifests: the commit point of a backup. A snapshot object is
//! written last, after every pack and index it depends on is durable.

use crate::format::decode::{self, Validate};
use crate::format::id::Id;
use crate::format::FormatError;
use serde::{Deserialize, Serialize};

/// The kind of a snapshot's source, by its code (on disk a `u32`, the
/// bincode of the enum this replaced): 0 files and directories, 1 a SQLite
/// database (format 3), further codes one per source kind (see the `source` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceKind(pub u32);

impl SourceKind {
    /// Files and directories.
    pub const FILES: SourceKind = SourceKind(0);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    /// Absolute path as given (made absolute) at backup time.
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Sum of file sizes (logical bytes).
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// Nanoseconds since the Unix epoch, UTC.
    pub time_ns: i64,
    pub hostname: String,
    pub username: String,
    pub tags: Vec<String>,
    pub sources: Vec<Source>,
    /// Tree blobs of the root directory, whose entries are the sources,
    /// each under its base name.
    pub tree: Vec<Id>,
    pub parent: Option<Id>,
    pub summary: Summary,
    /// Random bytes so two otherwise identical snapshots get distinct ids.
    pub nonce: [u8; 16],
    /// A stack snapshot's components (version 2; absent in version 1).
    pub stack: Option<Stack>,
}

/// What a stack snapshot records beyond a plain one: the stack (its series)
/// and, per component, how and when it was captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// The stack file's `name` (or file stem): the series.
    pub name: String,
    /// In capture order.
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Its name in the stack file, and its node's name in the root tree.
    pub name: String,
    pub kind: SourceKind,
    /// Where it was captured from (as in `sources`).
    pub location: String,
    /// When its capture began (its `before` hook done), ns since the epoch.
    pub start_ns: i64,
    /// How long the capture took, microseconds.
    pub duration_us: u64,
    /// How long the application was held up (a read transaction, a pause),
    /// microseconds; absent when the kind cannot tell (a Redis fork).
    pub hold_us: Option<u64>,
    /// The kind's method (`sqlite_dbpage`, `replication-sync`, `walk`...).
    pub method: String,
    /// Bytes it holds, and bytes read to capture it.
    pub bytes: u64,
    pub bytes_read: u64,
}

/// Snapshot versions: 1 ends after `nonce`; 2 (format 6) adds `stack`.
pub const STACK_VERSION: u32 = 2;

impl Snapshot {
    /// Version 1 is the version-2 layout without its last byte (`stack`'s
    /// `None` tag), so plain snapshots keep their bytes and ids.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = decode::encode(self);
        if self.stack.is_none() {
            b.pop();
        }
        b
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        match bytes.get(..4).map(|v| u32::from_le_bytes(v.try_into().expect("4 bytes"))) {
            Some(1) => {
                let mut padded = bytes.to_vec();
                padded.push(0);
                decode::decode(&padded)
            }
            _ => decode::decode(bytes),
        }
    }
    /// The series it belongs to: its stack, or its host and sources.
    pub fn series(&self) -> Vec<String> {
        match &self.stack {
            Some(s) => vec![format!("stack:{}", s.name)],
            None => Snapshot::series_of(&self.sources),
        }
    }
    /// The series of a plain snapshot of `sources`.
    pub fn series_of(sources: &[Source]) -> Vec<String> {
        let mut v: Vec<_> = sources.iter().map(|s| (s.kind, s.path.clone())).collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v.into_iter().map(|(k, p)| format!("{}:{p}", k.0)).collect()
    }
    /// Time as RFC 3339 in UTC.
    pub fn time_string(&self) -> String {
        jiff::Timestamp::from_nanosecond(self.time_ns as i128).map(|t| t.to_string()).unwrap_or_default()
    }
    /// Sources in a canonical order, for finding a parent of the same series.
    pub fn source_key(&self) -> Vec<(SourceKind, String)> {
        let mut v: Vec<_> = self.sources.iter().map(|s| (s.kind, s.path.clone())).collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    }
}

impl Validate for Snapshot {
    fn validate(&self) -> Result<(), String> {
        match (self.version, &self.stack) {
            (1, None) => {}
            (STACK_VERSION, Some(st)) => {
                if st.name.is_empty() || st.components.len() != self.sources.len() {
                    return Err("a stack snapshot names its stack and one component per source".into());
                }
                for (i, c) in st.components.iter().enumerate() {
                    if c.name.is_empty() || c.name.contains('/') || st.components[..i].iter().any(|o| o.name == c.name)
                    {
                        return Err(format!("stack component {i}: its name is empty, has '/' or is used twice"));
                    }
                }
            }
            (1 | STACK_VERSION, _) => {
                return Err(format!("snapshot version {} with a stack that does not match it", self.version))
            }
            (v, _) => return Err(format!("snapshot version {v} is unknown")),
        }
        if self.sources.is_empty() || self.sources.iter().any(|s| s.path.is_empty()) {
            return Err("a snapshot names at least one source, each with a path".into());
        }
        Ok(())
    }
}

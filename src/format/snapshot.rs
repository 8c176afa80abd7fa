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
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        decode::encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        decode::decode(bytes)
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
        if self.version != 1 {
            return Err(format!("snapshot version {} is unknown", self.version));
        }
        if self.sources.is_empty() || self.sources.iter().any(|s| s.path.is_empty()) {
            return Err("a snapshot names at least one source, each with a path".into());
        }
        Ok(())
    }
}

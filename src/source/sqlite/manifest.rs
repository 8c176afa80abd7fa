//! The manifest of a SQLite snapshot and its page lists
//! (format-spec/sqlite.md).
//!
//! A database is stored as one chunk per page (hashed without its page
//! number, so a page that moves still deduplicates), the ordered page ids as
//! page-list blobs of `PAGE_LIST_IDS` ids each (fixed groups: SQLite never
//! shifts pages, so an unchanged region of the file yields the same
//! page-list blob as last time), and one manifest blob naming the page lists
//! beside the facts recorded in the same read transaction.

use crate::error::{Error, FormatError, Result};
use crate::format::decode::{self, Validate};
use crate::format::id::Id;
use crate::format::{PAGE_LIST_IDS, SQLITE_PAGE_SIZE_LIMITS};
use crate::source::idlist::IdLists;
use serde::{Deserialize, Serialize};

/// How the page image was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaptureMethod {
    /// `SELECT pgno, data FROM sqlite_dbpage` in one read transaction:
    /// byte-exact image of the committed state, WAL frames included.
    Dbpage,
    /// Online backup API in one step into a temporary file (no dbpage
    /// virtual table): consistent, but page 1 differs from the source in a
    /// few header bytes (change counter, schema cookie).
    BackupApi,
}

/// What the integrity check at backup time said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Integrity {
    NotChecked,
    /// `PRAGMA quick_check` (`full` false) or `integrity_check` returned ok.
    Ok {
        full: bool,
    },
    /// The first lines the check returned.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    pub name: String,
    /// None when the table could not be counted (a corrupt database, whose
    /// integrity check failure the manifest records too).
    pub rows: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SqliteManifest {
    pub page_size: u32,
    pub page_count: u64,
    /// Page-list blobs, in page order.
    pub page_lists: Vec<Id>,
    /// `PRAGMA journal_mode` of the source ("wal", "delete", ...).
    pub journal_mode: String,
    pub user_version: i64,
    pub schema_version: i64,
    /// Rows of every ordinary table, counted in the same transaction.
    pub tables: Vec<TableRows>,
    pub method: CaptureMethod,
    pub integrity: Integrity,
    /// How long the read transaction (or backup step) was held.
    pub hold_ms: u64,
    /// SQLite library version that read the pages.
    pub sqlite_version: String,
    /// The zstd dictionary the page blobs were compressed with, if any.
    pub dictionary: Option<Id>,
    // Format 5 appends the three fields below; a format 3 or 4 manifest
    // is the same bytes without them (`decode` reads both).
    /// List-patch blobs on the page lists, oldest first (format 5).
    pub patches: Vec<Id>,
    /// Pages the page lists hold (the page count, unless patched).
    pub base_pages: u64,
    /// Entries in all patches together.
    pub patched: u64,
}

/// Bytes of the three fields format 5 appends, when `patches` is empty.
const FORMAT5_TAIL: usize = 24;
/// `base_pages` of a format 3 or 4 manifest while it is decoded: its page
/// lists hold all `page_count` pages.
const ALL_PAGES: u64 = u64::MAX;

impl SqliteManifest {
    /// The manifest as format `version` stores it (before 5: without the
    /// last three fields; such a manifest has no patches).
    pub fn encode(&self, version: u32) -> Vec<u8> {
        let mut b = decode::encode(self);
        if version < crate::format::FRAMES_VERSION {
            debug_assert!(self.patches.is_empty() && self.base_pages == self.page_count);
            b.truncate(b.len() - FORMAT5_TAIL);
        }
        b
    }

    /// Decode a manifest of any format: format 5's layout, or format 3/4's
    /// (the same without the last three fields: a format-4 manifest is
    /// short of them, a format-5 one has bytes left over after them, so
    /// at most one reading fits).
    pub fn decode(id: &Id, bytes: &[u8]) -> Result<Self> {
        let err = |e| Error::format(format!("sqlite manifest {id}"), e);
        match decode::decode::<SqliteManifest>(bytes) {
            Ok(m) => Ok(m),
            Err(e) => {
                let mut old = bytes.to_vec();
                old.extend_from_slice(&0u64.to_le_bytes());
                old.extend_from_slice(&ALL_PAGES.to_le_bytes());
                old.extend_from_slice(&0u64.to_le_bytes());
                match decode::decode::<SqliteManifest>(&old) {
                    Ok(mut m) if m.base_pages == ALL_PAGES => {
                        m.base_pages = m.page_count;
                        Ok(m)
                    }
                    _ => Err(err(e)),
                }
            }
        }
    }

    /// The page ids as id lists.
    pub fn pages(&self) -> IdLists {
        IdLists {
            count: self.page_count,
            base: if self.base_pages == ALL_PAGES { self.page_count } else { self.base_pages },
            lists: self.page_lists.clone(),
            patches: self.patches.clone(),
            patched: self.patched,
        }
    }

    /// Set the page ids' lists.
    pub fn set_pages(&mut self, l: IdLists) {
        debug_assert_eq!(l.count, self.page_count);
        (self.page_lists, self.patches, self.base_pages, self.patched) = (l.lists, l.patches, l.base, l.patched);
    }

    pub fn db_size(&self) -> u64 {
        self.page_size as u64 * self.page_count
    }
}

impl Validate for SqliteManifest {
    /// The page size is one SQLite allows, and the page lists hold exactly
    /// `base_pages` ids: full lists of `PAGE_LIST_IDS`, then the rest (so a
    /// reader may size its buffers by them); `IdLists::validate`.
    fn validate(&self) -> std::result::Result<(), String> {
        let (lo, hi) = SQLITE_PAGE_SIZE_LIMITS;
        if !self.page_size.is_power_of_two() || self.page_size < lo || self.page_size > hi {
            return Err(format!("page size {} is not a power of two from {lo} to {hi}", self.page_size));
        }
        if self.page_count == 0 || self.page_count > u32::MAX as u64 {
            return Err(format!("page count {} is outside 1..2^32", self.page_count));
        }
        self.pages().validate()
    }
}

/// Ids the `n`-th of the page lists holding `total` ids must hold: full
/// lists of `PAGE_LIST_IDS`, then the rest.
pub fn ids_in_list(total: u64, n: usize) -> usize {
    total.saturating_sub((n * PAGE_LIST_IDS) as u64).min(PAGE_LIST_IDS as u64) as usize
}

/// A page-list blob: the 32-byte ids of consecutive pages, concatenated.
pub fn encode_page_list(ids: &[Id]) -> Vec<u8> {
    ids.iter().flat_map(|i| i.0).collect()
}

/// Decode a page list that must hold `want` ids.
pub fn decode_page_list(id: &Id, bytes: &[u8], want: usize) -> Result<Vec<Id>> {
    if bytes.len() != want * 32 {
        let e = FormatError::Invalid(format!("{} bytes, expected {want} page ids of 32 bytes", bytes.len()));
        return Err(Error::format(format!("page list {id}"), e));
    }
    Ok(bytes.chunks_exact(32).map(|c| Id(c.try_into().expect("32 bytes"))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_list_round_trip_and_bad_length() {
        let ids: Vec<Id> = (0..5u8).map(|i| Id::hash(&[i])).collect();
        let b = encode_page_list(&ids);
        assert_eq!(b.len(), 160);
        assert_eq!(decode_page_list(&Id::hash(b"x"), &b, 5).unwrap(), ids);
        assert!(decode_page_list(&Id::hash(b"x"), &b[..33], 5).is_err());
        assert!(decode_page_list(&Id::hash(b"x"), &b, 4).is_err());
    }
}

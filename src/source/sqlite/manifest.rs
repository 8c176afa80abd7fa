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
}

impl SqliteManifest {
    pub fn encode(&self) -> Vec<u8> {
        decode::encode(self)
    }
    pub fn decode(id: &Id, bytes: &[u8]) -> Result<Self> {
        decode::decode(bytes).map_err(|e| Error::format(format!("sqlite manifest {id}"), e))
    }
    pub fn db_size(&self) -> u64 {
        self.page_size as u64 * self.page_count
    }
}

impl Validate for SqliteManifest {
    /// The page size is one SQLite allows, and the page lists hold exactly
    /// `page_count` ids: full lists of `PAGE_LIST_IDS`, then the rest (so a
    /// reader may size its buffers by `page_count`).
    fn validate(&self) -> std::result::Result<(), String> {
        let (lo, hi) = SQLITE_PAGE_SIZE_LIMITS;
        if !self.page_size.is_power_of_two() || self.page_size < lo || self.page_size > hi {
            return Err(format!("page size {} is not a power of two from {lo} to {hi}", self.page_size));
        }
        if self.page_count == 0 || self.page_count > u32::MAX as u64 {
            return Err(format!("page count {} is outside 1..2^32", self.page_count));
        }
        let lists = self.page_count.div_ceil(PAGE_LIST_IDS as u64);
        if self.page_lists.len() as u64 != lists {
            return Err(format!(
                "{} pages need {lists} page lists, the manifest names {}",
                self.page_count,
                self.page_lists.len()
            ));
        }
        Ok(())
    }
}

/// Ids the `n`-th page list of `m` must hold.
pub fn list_len(m: &SqliteManifest, n: usize) -> usize {
    ids_in_list(m.page_count, n)
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

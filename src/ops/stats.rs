//! `stats`: logical size, stored size and the dedup and compression ratios,
//! for one snapshot or for the whole repository.

use crate::error::Result;
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::format::tree::Node;
use crate::format::ObjectKind;
use crate::format::PREFIX_DATA;
use crate::repo::Repository;
use crate::source::reach::{walk, Fns, Reached};
use std::collections::HashSet;
use std::path::Path;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub snapshots: u64,
    pub files: u64,
    /// Sum of file sizes over the snapshots considered.
    pub logical_bytes: u64,
    /// Distinct blobs (data and tree) those snapshots reference.
    pub unique_blobs: u64,
    /// Plaintext bytes of those distinct blobs.
    pub unique_bytes: u64,
    /// The part of them that is content (file chunks, database pages), not
    /// metadata (trees, manifests, page lists).
    pub unique_data_bytes: u64,
    /// Bytes they occupy in packs (sealed: compressed plus envelope). For the
    /// whole repository: the total size of all pack files.
    pub stored_bytes: u64,
    /// logical / unique content (how much deduplication saves): 1.0 for
    /// one snapshot without repeated content, whatever its metadata.
    pub dedup_ratio: f64,
    /// unique / stored (how much compression saves).
    pub compression_ratio: f64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Statistics over `snaps`; when `whole_repo`, stored bytes are the packs'.
pub fn stats(repo: &Repository, snaps: &[Snapshot], whole_repo: bool) -> Result<Stats> {
    let mut s = Stats { snapshots: snaps.len() as u64, ..Default::default() };
    let mut seen: HashSet<Id> = HashSet::new();
    let index = repo.index();
    // A frame member's stored bytes are its share of the frame.
    let shares = index.shares();
    for snap in snaps {
        s.logical_bytes += snap.summary.bytes;
        s.files += snap.summary.files;
        // Every blob once: one already counted is not walked into again.
        let blob = |r: Reached| -> Result<bool> {
            if r.kind == ObjectKind::Dictionary || !seen.insert(*r.id) {
                return Ok(false);
            }
            if let Some(at) = index.position(r.id) {
                s.unique_blobs += 1;
                let len = index.entry(at).1.raw_length as u64;
                s.unique_bytes += len;
                if r.kind == ObjectKind::Data {
                    s.unique_data_bytes += len;
                }
                s.stored_bytes += index.share(&shares, at);
            }
            Ok(true)
        };
        let mut v = Fns { blob, node: |_: &Path, _: &Node| Ok(true), failed: |_: &Id, _: &Path, e| Err(e) };
        walk(&mut |id| repo.read_blob(id), &snap.tree, &mut v)?;
    }
    if whole_repo {
        s.stored_bytes = repo.backend().list(PREFIX_DATA)?.iter().map(|o| o.size).sum();
    }
    s.dedup_ratio = ratio(s.logical_bytes, s.unique_data_bytes);
    s.compression_ratio = ratio(s.unique_bytes, s.stored_bytes);
    Ok(s)
}

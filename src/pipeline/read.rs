//! The read side of the data path: many blobs fetched pack by pack.
//!
//! The blobs wanted are located, grouped by pack, sorted by offset and cut
//! into ranges: neighbours are read in one request when the gap between
//! them is at most `GAP` (read through and thrown away) and the range stays
//! within `MAX_RANGE`. Ranges are read in parallel; every blob in a range
//! is opened and checked against its id, then handed to the caller once.
//! On a local disk this turns one `pread` per chunk into about one per
//! pack; on object storage it is the difference between one request per
//! chunk and one per 16 MiB.
//!
//! A range that cannot be read whole (its pack gone after a concurrent
//! prune repacked it, or cut short) falls back to reading its blobs one by
//! one through `Repository::read_blob`, which looks in a fresh index, so
//! each blob still gets its own exact result.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::pack::index::Location;
use crate::pack::pack_key;
use crate::repo::Repository;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Gaps up to this are read through: a second request costs more than
/// reading 1 MiB more from a pack that is being read anyway.
pub const GAP: u64 = 1 << 20;
/// A range stops growing here, so a few ranges in flight bound memory: one
/// whole pack at the default size, which closes past 16 MiB by at most one
/// chunk (2 MiB at most by default). At 16 MiB every pack took two reads:
/// 164 GETs per GiB restored from S3, trees included; at 20 MiB, with the
/// trees cached by the backup, 40, as restic (benches/s3.rs).
pub const MAX_RANGE: u64 = 20 << 20;

/// What a read cost.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct ReadStats {
    /// Range requests made to the backend (including per-blob fallbacks).
    pub range_reads: u64,
    /// Bytes those requests returned.
    pub bytes_read: u64,
}

/// Receives each blob read: its verified plaintext, or why it could not be read.
pub type Deliver<'a> = dyn Fn(&Id, std::result::Result<&[u8], &Error>) + Sync + 'a;

/// Read every blob in `ids` (each once; duplicates are read once) and hand
/// it to `deliver`, with its verified plaintext or the reason it could not
/// be read. Blobs arrive in no particular order, from several threads.
pub fn read_blobs(repo: &Repository, ids: &[Id], deliver: &Deliver) -> ReadStats {
    let reads = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let mut by_pack: HashMap<Id, Vec<(Location, Id)>> = HashMap::new();
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for id in ids.iter().filter(|id| seen.insert(**id)) {
        match repo.locate(id) {
            Some(loc) => by_pack.entry(loc.pack).or_default().push((loc, *id)),
            None => deliver(id, Err(&Error::BlobNotIndexed { kind: "data or tree", id: id.to_hex() })),
        }
    }
    let mut ranges = Vec::new();
    for (_, mut blobs) in by_pack {
        blobs.sort_by_key(|(l, _)| l.offset);
        ranges.extend(coalesce(blobs));
    }
    // Large ranges first, so the last thread is not left with one.
    ranges.sort_by_key(|r| std::cmp::Reverse(r.len));
    // As many reads in flight as the backend wants (an object store more
    // than the cores), in a pool of that size when it differs.
    let pool = match repo.backend().parallelism() {
        n if n == rayon::current_num_threads() || ranges.len() < 2 => None,
        n => rayon::ThreadPoolBuilder::new().num_threads(n).build().ok(),
    };
    let run = |f: &(dyn Fn() + Sync)| match &pool {
        Some(p) => p.install(f),
        None => f(),
    };
    run(&|| {
        ranges.par_iter().for_each(|Range { start, len, blobs: range }| {
            let (start, len) = (*start, *len);
            crate::failpoint::pause("read-range");
            // Stopped: every blob left is handed over as interrupted, so the
            // caller cleans up what it had begun.
            if repo.cancelled() {
                for (_, id) in range {
                    deliver(id, Err(&Error::Interrupted));
                }
                return;
            }
            reads.fetch_add(1, Ordering::Relaxed);
            match repo.backend().get_range(&pack_key(&range[0].0.pack), start, len) {
                Ok(b) => {
                    bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                    // Sorted by offset: a frame's members come in a row and
                    // the opener opens it once.
                    let mut opener = repo.opener();
                    for (loc, id) in range {
                        let at = (loc.offset as u64 - start) as usize;
                        let sealed = b.get(at..at + loc.length as usize).unwrap_or_default();
                        match repo.open_located_with(&mut opener, id, loc, sealed) {
                            Ok(raw) => deliver(id, Ok(&raw)),
                            Err(e) => deliver(id, Err(&e)),
                        }
                    }
                }
                Err(_) => {
                    for (loc, id) in range {
                        reads.fetch_add(1, Ordering::Relaxed);
                        match repo.read_blob(id) {
                            Ok(raw) => {
                                bytes.fetch_add(loc.length as u64, Ordering::Relaxed);
                                deliver(id, Ok(&raw))
                            }
                            Err(e) => deliver(id, Err(&e)),
                        }
                    }
                }
            }
        })
    });
    ReadStats { range_reads: reads.into_inner(), bytes_read: bytes.into_inner() }
}

/// One read: `len` bytes of a pack from `start`, holding `blobs`.
struct Range {
    start: u64,
    len: u64,
    blobs: Vec<(Location, Id)>,
}

/// Split blobs of one pack, sorted by offset, into ranges worth one read each.
fn coalesce(blobs: Vec<(Location, Id)>) -> Vec<Range> {
    let mut out: Vec<Range> = Vec::new();
    for b in blobs {
        let (at, end) = (b.0.offset as u64, b.0.offset as u64 + b.0.length as u64);
        match out.last_mut() {
            Some(r) if at <= r.start + r.len + GAP && end - r.start <= MAX_RANGE => {
                r.len = r.len.max(end - r.start);
                r.blobs.push(b);
            }
            _ => out.push(Range { start: at, len: end - at, blobs: vec![b] }),
        }
    }
    out
}

/// Read blobs into `place(id, plaintext)`, for a restore that is all or
/// nothing (a database): the first failure is returned, a blob that could
/// not be read named by `what(id)` (a damaged-data error).
pub fn read_all(
    repo: &Repository,
    ids: &[Id],
    what: &(dyn Fn(&Id) -> String + Sync),
    place: &(dyn Fn(&Id, &[u8]) -> Result<()> + Sync),
) -> Result<ReadStats> {
    let first: std::sync::Mutex<Option<Error>> = Default::default();
    let stats = read_blobs(repo, ids, &|id, got| {
        let r = got.map_err(|e| match e {
            Error::Interrupted => Error::Interrupted,
            e => Error::format(what(id), crate::format::FormatError::Decode(e.to_string())),
        });
        if let Err(e) = r.and_then(|raw| place(id, raw)) {
            first.lock().expect("error slot").get_or_insert(e);
        }
    });
    match first.into_inner().expect("error slot") {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

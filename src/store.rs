//! The write side of the data path: hasher → compressor → packer → backend.
//!
//! `BlobWriter::add` hashes on the caller's thread (so the caller gets the id
//! at once and duplicates are dropped before any further work), hands new
//! blobs to a pool of sealing threads through a bounded queue, and those hand
//! sealed blobs to one packer thread that stores finished packs. Bounded
//! queues keep memory at a few chunks per thread whatever the input size.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::format::ObjectKind;
use crate::id::Id;
use crate::index::{IndexPack, MasterIndex};
use crate::pack::pack_key;
use crate::pack::packer::{Packer, SealedBlob, Uploaded};
use crate::repo::Repository;
use crate::seal::Sealer;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;

struct Job {
    id: Id,
    kind: ObjectKind,
    data: Vec<u8>,
    dict: Option<&'static crate::dict::Dict>,
}

/// What a finished writer stored.
#[derive(Debug, Default, Clone)]
pub struct WriteStats {
    pub blobs_new: u64,
    pub bytes_new_raw: u64,
    pub bytes_new_stored: u64,
    pub packs: u64,
}

pub struct BlobWriter {
    backend: Arc<dyn Backend>,
    pending: HashSet<Id>,
    jobs: Option<Sender<Job>>,
    sealers: Vec<JoinHandle<()>>,
    packer: Option<JoinHandle<Uploaded>>,
    failed: Arc<std::sync::atomic::AtomicBool>,
    sealer: Sealer,
    /// Packs marked for deletion: their blobs count as absent.
    excluded: HashSet<Id>,
    /// Packs holding blobs this writer deduplicated against.
    reused: HashSet<Id>,
    last_reused: Option<Id>,
    /// Compress new blobs with this dictionary while set (SQLite pages).
    dict: Option<&'static crate::dict::Dict>,
    pub stats: WriteStats,
}

impl BlobWriter {
    pub fn new(repo: &Repository) -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let (job_tx, job_rx) = bounded::<Job>(threads * 4);
        let (blob_tx, blob_rx) = bounded::<SealedBlob>(threads * 4);
        let sealer = repo.sealer().clone();
        let sealers = (0..threads)
            .map(|_| {
                let (rx, tx, sealer) = (job_rx.clone(), blob_tx.clone(), sealer.clone());
                std::thread::spawn(move || {
                    for job in rx {
                        let sealed = sealer.seal_with(job.kind, &job.data, job.dict);
                        let blob = SealedBlob { id: job.id, kind: job.kind, raw_length: job.data.len() as u32, sealed };
                        if tx.send(blob).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let packer = Packer::new(repo.backend().clone(), repo.config.pack_size as usize, failed.clone(), sealer);
        let packer = Some(spawn_packer(packer, blob_rx));
        BlobWriter {
            backend: repo.backend().clone(),
            pending: HashSet::new(),
            jobs: Some(job_tx),
            sealers,
            packer,
            failed,
            sealer: repo.sealer().clone(),
            excluded: repo.marked_packs().clone(),
            reused: HashSet::new(),
            last_reused: None,
            dict: None,
            stats: WriteStats::default(),
        }
    }

    /// Store `data` unless the index or this writer already has it; returns its id.
    /// The bytes are copied only when the blob is new.
    pub fn add(&mut self, index: &MasterIndex, kind: ObjectKind, data: &[u8]) -> Result<Id> {
        let id = self.sealer.id(data);
        self.add_hashed(index, kind, id, data)
    }

    /// `add` for a caller that already computed `id` with `sealer().id`
    /// (the SQLite source hashes batches of pages on several threads).
    pub fn add_hashed(&mut self, index: &MasterIndex, kind: ObjectKind, id: Id, data: &[u8]) -> Result<Id> {
        debug_assert_eq!(id, self.sealer.id(data));
        if let Some(loc) = index.lookup(&id) {
            if self.excluded.is_empty() || !self.excluded.contains(&loc.pack) {
                self.note_reused(loc.pack);
                return Ok(id);
            }
        }
        if !self.pending.insert(id) {
            return Ok(id);
        }
        if self.failed.load(std::sync::atomic::Ordering::Relaxed) {
            // The real error comes out of `finish` or `abort`.
            return Err(Error::PackerFailed);
        }
        self.stats.blobs_new += 1;
        self.stats.bytes_new_raw += data.len() as u64;
        self.jobs
            .as_ref()
            .expect("writer open")
            .send(Job { id, kind, data: data.to_vec(), dict: self.dict })
            .expect("sealer threads alive");
        Ok(id)
    }

    /// Consecutive chunks mostly come from one pack: remember the last one
    /// so the set is touched once per run, not once per chunk.
    fn note_reused(&mut self, pack: Id) {
        if self.last_reused != Some(pack) {
            self.last_reused = Some(pack);
            self.reused.insert(pack);
        }
    }

    /// Compress blobs added from now on with `dict` (None: plain zstd).
    pub fn set_dictionary(&mut self, dict: Option<&'static crate::dict::Dict>) {
        self.dict = dict;
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Packs this writer deduplicated against (a backup checks them before
    /// committing, in case a prune marked and deleted one meanwhile).
    pub fn reused_packs(&self) -> &HashSet<Id> {
        &self.reused
    }

    /// True if `id` is stored in a pack that is not marked for deletion, or
    /// queued by this writer: a parent snapshot's chunk that may be reused.
    pub fn can_reuse(&mut self, index: &MasterIndex, id: &Id) -> bool {
        match index.lookup(id) {
            Some(loc) if !self.excluded.contains(&loc.pack) => {
                self.note_reused(loc.pack);
                true
            }
            _ => self.pending.contains(id),
        }
    }

    fn stop(&mut self) -> Uploaded {
        self.jobs.take();
        for h in self.sealers.drain(..) {
            h.join().expect("sealer thread panicked");
        }
        self.packer.take().expect("stopped once").join().expect("packer thread panicked")
    }

    /// Store the last pack and return the stored packs, all durable. On error
    /// every pack this writer stored is deleted again (none is indexed yet).
    pub fn finish(mut self) -> Result<(Vec<IndexPack>, WriteStats)> {
        let up = self.stop();
        if let Some(e) = up.error {
            remove_packs(&*self.backend, &up.packs);
            return Err(e);
        }
        self.stats.bytes_new_stored = up.bytes;
        self.stats.packs = up.packs.len() as u64;
        Ok((up.packs, self.stats.clone()))
    }

    /// Stop without committing anything and delete the packs written so far;
    /// returns the upload error, if one happened.
    pub fn abort(mut self) -> Option<Error> {
        let up = self.stop();
        remove_packs(&*self.backend, &up.packs);
        up.error
    }
}

/// Delete packs that no index references (cleanup after a failed backup).
pub fn remove_packs(backend: &dyn Backend, packs: &[IndexPack]) {
    for p in packs {
        let _ = backend.delete(&pack_key(&p.id));
    }
}

fn spawn_packer(mut packer: Packer, rx: Receiver<SealedBlob>) -> JoinHandle<Uploaded> {
    std::thread::spawn(move || {
        for blob in rx {
            packer.add(blob);
        }
        packer.finish()
    })
}

//! The write side of the data path: hasher → compressor → packer → backend.
//!
//! `BlobWriter::add` hashes on the caller's thread (so the caller gets the id
//! at once and duplicates are dropped before any further work), hands new
//! blobs to a pool of sealing threads through a bounded queue, and those hand
//! sealed blobs to one packer thread that stores finished packs. Bounded
//! queues keep memory at a few chunks per thread whatever the input size.
//!
//! Everything a writer stores before the commit — packs, and dictionaries —
//! it also removes again if the writer is aborted or its commit fails, so a
//! failed backup leaves the repository as it was.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::ObjectKind;
use crate::pack::index::IndexPack;
use crate::pack::pack_key;
use crate::pack::packer::{Packer, SealedBlob, Uploaded};
use crate::repo::Repository;
use crate::seal::dict::Dict;
use crate::seal::Sealer;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Which stored blobs a new blob may be replaced by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// Blobs the repository's loaded index holds outside packs marked for
    /// deletion, and blobs this writer already queued (backups).
    Index,
    /// Only blobs this writer already queued: every blob is written anew
    /// (prune's repack and repair's salvage, which copy blobs on purpose).
    Nothing,
}

struct Job {
    id: Id,
    kind: ObjectKind,
    data: Vec<u8>,
    dict: Option<Arc<Dict>>,
    /// For a frame (`kind` Frame, `data` its plaintext): each member's id
    /// and length.
    members: Vec<(Id, u32)>,
}

/// Small chunks waiting to be sealed together as one frame.
#[derive(Default)]
struct OpenFrame {
    members: Vec<(Id, u32)>,
    data: Vec<u8>,
}

/// What a finished writer stored.
#[derive(Debug, Default, Clone)]
pub struct WriteStats {
    pub blobs_new: u64,
    pub bytes_new_raw: u64,
    pub bytes_new_stored: u64,
    pub packs: u64,
}

/// What a writer stored, durable, for the commit to index (packs) and to
/// undo if the commit fails (packs and the dictionary objects it created).
#[derive(Debug, Default)]
pub struct Written {
    pub packs: Vec<IndexPack>,
    pub dictionaries: Vec<String>,
    pub stats: WriteStats,
}

pub struct BlobWriter<'r> {
    repo: &'r Repository,
    dedup: Dedup,
    pending: HashSet<Id>,
    jobs: Option<Sender<Job>>,
    sealers: Vec<JoinHandle<()>>,
    packer: Option<JoinHandle<Uploaded>>,
    failed: Arc<std::sync::atomic::AtomicBool>,
    sealer: Sealer,
    /// Packs holding blobs this writer deduplicated against.
    reused: HashSet<Id>,
    last_reused: Option<Id>,
    /// Dictionary objects this writer created (removed if it fails).
    new_dictionaries: Vec<String>,
    /// Dictionaries this writer uses that it did not create.
    reused_dictionaries: HashSet<Id>,
    /// True if the repository's format holds frames (version 5 on).
    frames: bool,
    frame: OpenFrame,
    pub stats: WriteStats,
}

impl<'r> BlobWriter<'r> {
    pub fn new(repo: &'r Repository, dedup: Dedup) -> Self {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let (job_tx, job_rx) = bounded::<Job>(threads * 4);
        let (blob_tx, blob_rx) = bounded::<SealedBlob>(threads * 4);
        let sealer = repo.sealer().clone();
        let sealers = (0..threads)
            .map(|_| {
                let (rx, tx, sealer) = (job_rx.clone(), blob_tx.clone(), sealer.clone());
                std::thread::spawn(move || {
                    for job in rx {
                        let sealed = sealer.seal_with(job.kind, &job.data, job.dict.as_ref());
                        let raw_length = job.data.len() as u32;
                        let blob = SealedBlob { id: job.id, kind: job.kind, raw_length, sealed, members: job.members };
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
            repo,
            dedup,
            pending: HashSet::new(),
            jobs: Some(job_tx),
            sealers,
            packer,
            failed,
            sealer: repo.sealer().clone(),
            reused: HashSet::new(),
            last_reused: None,
            new_dictionaries: Vec::new(),
            reused_dictionaries: HashSet::new(),
            frames: repo.config.version >= crate::format::FRAMES_VERSION,
            frame: OpenFrame::default(),
            stats: WriteStats::default(),
        }
    }

    /// True if small chunks go into frames (`add_small`), so a dictionary
    /// gains them little.
    pub fn frames(&self) -> bool {
        self.frames
    }

    /// The repository this writer stores into.
    pub fn repo(&self) -> &'r Repository {
        self.repo
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Store `data` unless it is already stored (by the dedup policy);
    /// returns its id. The bytes are copied only when the blob is new.
    pub fn add(&mut self, kind: ObjectKind, data: &[u8]) -> Result<Id> {
        let id = self.sealer.id(data);
        self.add_hashed(kind, id, data, None)
    }

    /// `add` for a caller that already computed `id` with `sealer().id`
    /// (the SQLite source hashes batches of pages on several threads),
    /// compressed with `dict` when given (one of this repository's).
    pub fn add_hashed(&mut self, kind: ObjectKind, id: Id, data: &[u8], dict: Option<&Arc<Dict>>) -> Result<Id> {
        debug_assert_eq!(id, self.sealer.id(data));
        self.repo.check_cancel()?;
        if kind == ObjectKind::Data {
            self.repo.progress().advance(data.len() as u64, 0);
        }
        if self.dedup == Dedup::Index && self.stored(&id) {
            return Ok(id);
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
        let job = Job { id, kind, data: data.to_vec(), dict: dict.cloned(), members: vec![] };
        self.send(job);
        Ok(id)
    }

    /// `add_hashed` for a small data chunk (a database page, an element's
    /// links or vector): new ones are collected into frames of about
    /// `FRAME_TARGET` bytes, compressed together. In a repository older
    /// than format 5, or for a chunk above `FRAME_MEMBER_MAX`, a plain blob.
    pub fn add_small(&mut self, id: Id, data: &[u8]) -> Result<Id> {
        use crate::format::{FRAME_MAX_MEMBERS, FRAME_MEMBER_MAX, FRAME_TARGET};
        if !self.frames || data.len() > FRAME_MEMBER_MAX {
            return self.add_hashed(ObjectKind::Data, id, data, None);
        }
        debug_assert_eq!(id, self.sealer.id(data));
        self.repo.check_cancel()?;
        self.repo.progress().advance(data.len() as u64, 0);
        if (self.dedup == Dedup::Index && self.stored(&id)) || !self.pending.insert(id) {
            return Ok(id);
        }
        if self.failed.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::PackerFailed);
        }
        self.stats.blobs_new += 1;
        self.stats.bytes_new_raw += data.len() as u64;
        self.frame.members.push((id, data.len() as u32));
        self.frame.data.extend_from_slice(data);
        if self.frame.data.len() >= FRAME_TARGET || self.frame.members.len() >= FRAME_MAX_MEMBERS {
            self.close_frame();
        }
        Ok(id)
    }

    /// `add_small`, hashing `data` here.
    pub fn small(&mut self, data: &[u8]) -> Result<Id> {
        let id = self.sealer.id(data);
        self.add_small(id, data)
    }

    /// Queue the open frame, if it holds anything.
    fn close_frame(&mut self) {
        let f = std::mem::take(&mut self.frame);
        if f.members.is_empty() {
            return;
        }
        let mut parts: Vec<&[u8]> = Vec::with_capacity(f.members.len());
        let mut at = 0;
        for (_, len) in &f.members {
            parts.push(&f.data[at..at + *len as usize]);
            at += *len as usize;
        }
        let data = crate::pack::frame::encode(&parts);
        let first = f.members[0].0;
        self.send(Job { id: first, kind: ObjectKind::Frame, data, dict: None, members: f.members });
    }

    fn send(&mut self, job: Job) {
        self.jobs.as_ref().expect("writer open").send(job).expect("sealer threads alive");
    }

    /// True if `id` is in a pack of the loaded index that prune has not
    /// marked for deletion (and note the pack as reused).
    fn stored(&mut self, id: &Id) -> bool {
        let Some(loc) = self.repo.index().lookup(id) else { return false };
        let marked = self.repo.marked_packs();
        if !marked.is_empty() && marked.contains(&loc.pack) {
            return false;
        }
        // Consecutive chunks mostly come from one pack: remember the last one
        // so the set is touched once per run, not once per chunk.
        if self.last_reused != Some(loc.pack) {
            self.last_reused = Some(loc.pack);
            self.reused.insert(loc.pack);
        }
        true
    }

    /// True if `id` may be referenced without storing it again: a parent
    /// snapshot's chunk that is stored (and not marked) or queued here.
    pub fn can_reuse(&mut self, id: &Id) -> bool {
        self.stored(id) || self.pending.contains(id)
    }

    /// Packs this writer deduplicated against (a backup checks them before
    /// committing, in case a prune marked and deleted one meanwhile).
    pub fn reused_packs(&self) -> &HashSet<Id> {
        &self.reused
    }

    /// Dictionaries used that this writer did not create (checked likewise).
    pub fn reused_dictionaries(&self) -> &HashSet<Id> {
        &self.reused_dictionaries
    }

    /// Store a new dictionary (`dictionaries/<id>`) and make it known to the
    /// repository's sealer. Written before the index, and removed again if
    /// this writer fails, like its packs; one that already existed is only
    /// reused.
    pub fn store_dictionary(&mut self, bytes: Vec<u8>) -> Result<Arc<Dict>> {
        let id = self.sealer.id(&bytes);
        let key = crate::repo::dicts::key(&id);
        match self.repo.backend().get_range(&key, 0, 1) {
            Ok(_) => {
                self.reused_dictionaries.insert(id);
            }
            Err(crate::backend::BackendError::NotFound { .. }) => {
                self.repo.put_sealed(&key, ObjectKind::Dictionary, &bytes)?;
                self.new_dictionaries.push(key);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(self.sealer.dicts().insert(id, bytes, self.sealer.level))
    }

    /// A stored dictionary to compress with (a parent snapshot's), if this
    /// repository has it and prune has not marked it for deletion.
    pub fn reuse_dictionary(&mut self, id: &Id) -> Option<Arc<Dict>> {
        if self.repo.marked_packs().contains(id) {
            return None;
        }
        let d = self.sealer.dicts().by_id(id)?;
        self.reused_dictionaries.insert(*id);
        Some(d)
    }

    fn stop(&mut self) -> Uploaded {
        self.close_frame();
        self.jobs.take();
        for h in self.sealers.drain(..) {
            h.join().expect("sealer thread panicked");
        }
        self.packer.take().expect("stopped once").join().expect("packer thread panicked")
    }

    /// Store the last pack and return what was stored, all durable. On
    /// error everything this writer stored is deleted again (none of it is
    /// indexed yet).
    pub fn finish(mut self) -> Result<Written> {
        let up = self.stop();
        let written = Written {
            packs: up.packs,
            dictionaries: std::mem::take(&mut self.new_dictionaries),
            stats: WriteStats { bytes_new_stored: up.bytes, ..self.stats.clone() },
        };
        if let Some(e) = up.error {
            undo(self.repo, &written);
            return Err(storage_error(e));
        }
        let mut written = written;
        written.stats.packs = written.packs.len() as u64;
        Ok(written)
    }

    /// Stop without committing anything and delete what was stored so far;
    /// returns the upload error, if one happened.
    pub fn abort(mut self) -> Option<Error> {
        let up = self.stop();
        let written =
            Written { packs: up.packs, dictionaries: std::mem::take(&mut self.new_dictionaries), ..Default::default() };
        undo(self.repo, &written);
        up.error.map(storage_error)
    }
}

/// A failed pack upload, worded for the user (a full disk says so).
fn storage_error(e: crate::backend::BackendError) -> Error {
    if e.is_storage_full() {
        Error::DiskFull { key: e.key().to_string() }
    } else {
        e.into()
    }
}

/// Delete what a writer stored that nothing indexes or references yet
/// (cleanup after a failed backup).
pub fn undo(repo: &Repository, w: &Written) {
    for p in &w.packs {
        let _ = repo.backend().delete(&pack_key(&p.id));
    }
    for k in &w.dictionaries {
        let _ = repo.backend().delete(k);
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

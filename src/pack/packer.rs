//! The packer stage: collects sealed blobs into packs of the configured size
//! and hands finished packs to uploader threads, which store them through the
//! backend (durable on return). Uploads overlap with packing, so an fsync on
//! a local disk or a PUT to an object store does not stall the pipeline.

use super::{finish_pack, new_pack_buffer, pack_key, BlobEntry};
use crate::backend::Backend;
use crate::backend::BackendError;
use crate::format::id::Id;
use crate::format::ObjectKind;
use crate::pack::index::IndexPack;
use crate::seal::Sealer;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Packs stored concurrently (`Backend::parallelism`, at most this); the
/// hand-over is a rendezvous, so at most that many finished packs plus the
/// one being filled are in memory.
const MAX_UPLOADERS: usize = 8;

/// A blob ready to be packed.
pub struct SealedBlob {
    pub id: Id,
    pub kind: ObjectKind,
    pub raw_length: u32,
    pub sealed: Vec<u8>,
    /// For a frame: its members' ids and lengths, each listed with the
    /// frame's span (`id` and `raw_length` are then unused).
    pub members: Vec<(Id, u32)>,
}

/// What the uploaders stored; `error` is set if any upload failed.
#[derive(Default)]
pub struct Uploaded {
    pub packs: Vec<IndexPack>,
    pub bytes: u64,
    pub error: Option<BackendError>,
}

pub struct Packer {
    target: usize,
    buf: Vec<u8>,
    entries: Vec<BlobEntry>,
    uploads: Option<Sender<(IndexPack, Vec<u8>)>>,
    uploaders: Vec<JoinHandle<Uploaded>>,
    /// Buffers of stored packs, handed back for reuse: pack memory stays at
    /// a few buffers instead of one fresh allocation per pack.
    spare: Receiver<Vec<u8>>,
    /// Pack buffers allocated so far; never more than `uploaders + 1`.
    buffers: usize,
    /// Upload threads.
    n_uploaders: usize,
    failed: Arc<AtomicBool>,
    sealer: Sealer,
}

impl Packer {
    /// `failed` is raised as soon as an upload fails, so producers can stop early.
    pub fn new(backend: Arc<dyn Backend>, target: usize, failed: Arc<AtomicBool>, sealer: Sealer) -> Self {
        let (tx, rx) = bounded::<(IndexPack, Vec<u8>)>(0);
        let failed_flag = failed.clone();
        let n_uploaders = backend.parallelism().clamp(1, MAX_UPLOADERS);
        let (spare_tx, spare) = bounded::<Vec<u8>>(n_uploaders + 1);
        let uploaders = (0..n_uploaders)
            .map(|_| {
                let (rx, backend, failed, spare_tx) = (rx.clone(), backend.clone(), failed.clone(), spare_tx.clone());
                std::thread::spawn(move || {
                    let mut out = Uploaded::default();
                    for (pack, bytes) in rx {
                        if out.error.is_some() || failed.load(Ordering::Relaxed) {
                            // Drain, and hand the buffer back, so the packer
                            // never blocks waiting for one.
                            let _ = spare_tx.try_send(bytes);
                            continue;
                        }
                        match store_pack(&*backend, &pack, &bytes) {
                            Ok(()) => {
                                out.bytes += bytes.len() as u64;
                                out.packs.push(pack);
                                crate::failpoint::hit("pack-written");
                                crate::failpoint::pause("pack-written");
                            }
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                out.error = Some(e);
                            }
                        }
                        let _ = spare_tx.try_send(bytes);
                    }
                    out
                })
            })
            .collect();
        Packer {
            target,
            buf: Vec::new(),
            entries: vec![],
            uploads: Some(tx),
            uploaders,
            spare,
            buffers: 0,
            n_uploaders,
            failed: failed_flag,
            sealer,
        }
    }

    pub fn add(&mut self, blob: SealedBlob) {
        if self.entries.is_empty() {
            let reuse = self.next_buffer();
            self.buf = new_pack_buffer(reuse, self.target + blob.sealed.len() + 4096);
        }
        let (offset, length) = (self.buf.len() as u32, blob.sealed.len() as u32);
        if blob.members.is_empty() {
            let raw_length = blob.raw_length;
            self.entries.push(BlobEntry { id: blob.id, kind: blob.kind as u8, offset, length, raw_length });
        }
        for &(id, raw_length) in &blob.members {
            self.entries.push(BlobEntry { id, kind: ObjectKind::Frame as u8, offset, length, raw_length });
        }
        self.buf.extend_from_slice(&blob.sealed);
        if self.buf.len() >= self.target {
            self.seal_pack();
        }
    }

    /// A buffer for the next pack: a stored pack's, or a new one while fewer
    /// than `uploaders + 1` exist. Once all exist, wait for one: an uploader
    /// hands its buffer back before it takes the next pack, so the wait ends
    /// as soon as the pack just queued is taken, and pack memory stays at
    /// `uploaders + 1` buffers however fast or slow the storage is.
    fn next_buffer(&mut self) -> Vec<u8> {
        if let Ok(b) = self.spare.try_recv() {
            return b;
        }
        if self.buffers <= self.n_uploaders {
            self.buffers += 1;
            return Vec::new();
        }
        loop {
            match self.spare.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(b) => return b,
                // After a failed upload nothing is stored any more: do not wait.
                Err(crossbeam_channel::RecvTimeoutError::Timeout) if !self.failed.load(Ordering::Relaxed) => {}
                Err(_) => return Vec::new(),
            }
        }
    }

    /// Close the pack being filled, if it holds anything, and queue it.
    fn seal_pack(&mut self) {
        if self.entries.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.entries);
        let (id, bytes) = finish_pack(std::mem::take(&mut self.buf), &entries, &self.sealer);
        let pack = IndexPack { id, blobs: entries };
        self.uploads.as_ref().expect("open").send((pack, bytes)).expect("uploader threads alive");
    }

    /// Queue the last pack and wait for every upload; returns what is durable.
    pub fn finish(mut self) -> Uploaded {
        self.seal_pack();
        self.uploads.take();
        let mut all = Uploaded::default();
        for h in self.uploaders.drain(..) {
            let u = h.join().expect("uploader thread panicked");
            all.packs.extend(u.packs);
            all.bytes += u.bytes;
            all.error = all.error.or(u.error);
        }
        all
    }
}

/// Store a pack, then tell the backend where its metadata blobs are.
fn store_pack(backend: &dyn Backend, pack: &IndexPack, bytes: &[u8]) -> Result<(), BackendError> {
    let key = pack_key(&pack.id);
    backend.put(&key, bytes)?;
    for e in pack.blobs.iter().filter(|e| ObjectKind::from_u8(e.kind).is_some_and(ObjectKind::is_metadata)) {
        if let Some(b) = bytes.get(e.offset as usize..e.offset as usize + e.length as usize) {
            backend.written_meta(&key, e.offset as u64, b);
        }
    }
    Ok(())
}

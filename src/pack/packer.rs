//! The packer stage: collects sealed blobs into packs of the configured size
//! and stores each finished pack through the backend (durable on return).

use super::{finish_pack, new_pack_buffer, pack_key, BlobEntry};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::format::ObjectKind;
use crate::id::Id;
use crate::index::IndexPack;
use std::sync::Arc;

/// A blob ready to be packed.
pub struct SealedBlob {
    pub id: Id,
    pub kind: ObjectKind,
    pub raw_length: u32,
    pub sealed: Vec<u8>,
}

pub struct Packer {
    backend: Arc<dyn Backend>,
    target: usize,
    buf: Vec<u8>,
    entries: Vec<BlobEntry>,
    /// Packs stored so far, with their contents, for the index.
    pub done: Vec<IndexPack>,
    pub stored_bytes: u64,
}

impl Packer {
    pub fn new(backend: Arc<dyn Backend>, target: usize) -> Self {
        Packer { backend, target, buf: new_pack_buffer(0), entries: vec![], done: vec![], stored_bytes: 0 }
    }

    pub fn add(&mut self, blob: SealedBlob) -> Result<()> {
        if self.entries.is_empty() {
            self.buf = new_pack_buffer(self.target + blob.sealed.len() + 4096);
        }
        self.entries.push(BlobEntry {
            id: blob.id,
            kind: blob.kind as u8,
            offset: self.buf.len() as u32,
            length: blob.sealed.len() as u32,
            raw_length: blob.raw_length,
        });
        self.buf.extend_from_slice(&blob.sealed);
        if self.buf.len() >= self.target {
            self.flush()?;
        }
        Ok(())
    }

    /// Store the pack being filled, if it holds anything.
    pub fn flush(&mut self) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.entries);
        let (id, bytes) = finish_pack(std::mem::take(&mut self.buf), &entries);
        let key = pack_key(&id);
        self.backend.put(&key, &bytes).map_err(|e| {
            if e.is_storage_full() {
                Error::DiskFull { key: key.clone() }
            } else {
                e.into()
            }
        })?;
        self.stored_bytes += bytes.len() as u64;
        self.done.push(IndexPack { id, blobs: entries });
        crate::failpoint::hit("pack-written");
        Ok(())
    }
}

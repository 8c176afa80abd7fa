//! Where captured pages go: hashed a batch at a time on all cores, then
//! handed to the chunk store in page order, compressed with the database's
//! zstd dictionary (the previous snapshot's, or one trained on a sample of
//! this snapshot's pages; crate::dict explains why).

use super::manifest::SqliteManifest;
use crate::dict::{self, Dict};
use crate::error::Result;
use crate::format::ObjectKind;
use crate::id::Id;
use crate::repo::Repository;
use crate::store::BlobWriter;
use crate::tree::Node;

pub struct Sink<'a> {
    pub repo: &'a Repository,
    pub writer: &'a mut BlobWriter,
    /// The dictionary of the same database in the parent snapshot.
    pub previous: Option<&'static Dict>,
    /// The dictionary these pages are compressed with.
    pub dictionary: Option<Id>,
}

impl<'a> Sink<'a> {
    pub fn new(repo: &'a Repository, writer: &'a mut BlobWriter, prev: Option<&Node>) -> Self {
        let previous = prev.and_then(|n| previous_dictionary(repo, n));
        Sink { repo, writer, previous, dictionary: None }
    }

    /// Choose the dictionary before the first page: the previous one, or a
    /// new one trained on `TRAIN_SAMPLES` pages spread over the database
    /// (`sample(pgno)` reads one page of the same snapshot).
    pub fn prepare(&mut self, page_count: u64, sample: &mut dyn FnMut(u64) -> Result<Vec<u8>>) -> Result<()> {
        let d = match self.previous {
            Some(d) => Some(d),
            None if page_count >= dict::MIN_PAGES && self.repo.config.compression_level != 0 => {
                let n = dict::TRAIN_SAMPLES as u64;
                let pages: Vec<Vec<u8>> = (0..n).map(|i| sample(1 + i * page_count / n)).collect::<Result<_>>()?;
                let refs: Vec<&[u8]> = pages.iter().map(Vec::as_slice).collect();
                match dict::train(&refs) {
                    Some(bytes) => Some(dict::store(self.repo, &bytes)?),
                    None => None,
                }
            }
            None => None,
        };
        self.dictionary = d.map(|d| d.id);
        self.writer.set_dictionary(d);
        Ok(())
    }

    /// Hash a batch of pages on all cores (BLAKE3 of a 4 KiB page uses only
    /// a quarter of a wide SIMD unit, so one core hashes a 1 GiB database in
    /// ~0.45 s), then store them in page order.
    pub fn add(&mut self, batch: &[u8], page_size: usize) -> Result<Vec<Id>> {
        use rayon::prelude::*;
        let sealer = self.writer.sealer().clone();
        let ids: Vec<Id> = batch.par_chunks(page_size).map(|p| sealer.id(p)).collect();
        let index = self.repo.index();
        batch.chunks(page_size).zip(ids).map(|(p, id)| self.writer.add_hashed(index, ObjectKind::Data, id, p)).collect()
    }

    /// Page lists and the manifest are compressed without the dictionary.
    pub fn finish_pages(&mut self) {
        self.writer.set_dictionary(None);
    }
}

fn previous_dictionary(repo: &Repository, prev: &Node) -> Option<&'static Dict> {
    if prev.kind != crate::tree::NodeKind::Sqlite {
        return None;
    }
    let id = prev.content.first()?;
    let m = SqliteManifest::decode(id, &repo.read_blob(id).ok()?).ok()?;
    dict::lookup(&m.dictionary?.0[..8].try_into().ok()?)
}

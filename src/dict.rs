//! zstd dictionaries for small chunks (format-spec/sqlite.md).
//!
//! A 4 KiB SQLite page compressed alone loses most of zstd's context: on
//! the benchmark database, pages compress to 30% of their size one by one,
//! to 22% with a 16 KiB dictionary trained on the database's own pages (and
//! to 21.7% in runs of 64 pages, which would need a pack-format change and
//! lose random access). A dictionary is stored once as the object
//! `dictionaries/<id>` (sealed like everything else: it is made of data)
//! and named in the envelope of every blob compressed with it, by the first
//! 8 bytes of its id, so any reader can open any blob on its own.
//!
//! Dictionaries live for the whole process in a registry (`register`,
//! `lookup`): there are few (one per database series), they are small, and
//! the thread-local zstd contexts of `seal` refer to them by `'static`
//! reference.

use crate::error::{Error, FormatError, Result};
use crate::format::{ObjectKind, PREFIX_DICTIONARIES};
use crate::id::Id;
use crate::repo::Repository;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// Bytes of a trained dictionary: 16 KiB did as well as 64 or 110 KiB on
/// the benchmark's pages (21.9% vs 21.9% vs 22.0% of raw).
pub const DICT_SIZE: usize = 16 << 10;
/// Pages sampled to train one.
pub const TRAIN_SAMPLES: usize = 2000;
/// Below this many pages a database is compressed without a dictionary
/// (training would cost more than it saves).
pub const MIN_PAGES: u64 = 2048;

pub struct Dict {
    pub id: Id,
    pub encoder: zstd::dict::EncoderDictionary<'static>,
    pub decoder: zstd::dict::DecoderDictionary<'static>,
}

impl Dict {
    /// The 8 bytes that name this dictionary in an envelope.
    pub fn tag(&self) -> [u8; 8] {
        self.id.0[..8].try_into().unwrap()
    }
}

fn registry() -> &'static RwLock<HashMap<[u8; 8], &'static Dict>> {
    static R: OnceLock<RwLock<HashMap<[u8; 8], &'static Dict>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Make `bytes` (a dictionary with id `id`) available to every sealer of
/// this process; registering the same id again returns the first copy.
pub fn register(id: Id, bytes: &[u8], level: i32) -> &'static Dict {
    let tag: [u8; 8] = id.0[..8].try_into().unwrap();
    if let Some(d) = registry().read().unwrap().get(&tag) {
        return d;
    }
    // Leaked on purpose: see the module comment.
    let d: &'static Dict = Box::leak(Box::new(Dict {
        id,
        encoder: zstd::dict::EncoderDictionary::copy(bytes, level),
        decoder: zstd::dict::DecoderDictionary::copy(bytes),
    }));
    registry().write().unwrap().entry(tag).or_insert(d)
}

pub fn lookup(tag: &[u8; 8]) -> Option<&'static Dict> {
    registry().read().unwrap().get(tag).copied()
}

/// Train a dictionary on `samples`; None if zstd finds nothing to learn.
pub fn train(samples: &[&[u8]]) -> Option<Vec<u8>> {
    zstd::dict::from_samples(samples, DICT_SIZE).ok()
}

/// Store a new dictionary and register it.
pub fn store(repo: &Repository, bytes: &[u8]) -> Result<&'static Dict> {
    let id = repo.sealer().id(bytes);
    repo.put_sealed(&format!("{PREFIX_DICTIONARIES}{id}"), ObjectKind::Dictionary, bytes)?;
    Ok(register(id, bytes, repo.config.compression_level))
}

/// Load and register every dictionary of the repository. A damaged one is
/// skipped and returned as a problem (`check` reports it): only the blobs
/// compressed with it become unreadable, and they say which dictionary.
pub fn load_all(repo: &Repository) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for o in repo.backend().list(PREFIX_DICTIONARIES)? {
        let Some(id) = o.key.strip_prefix(PREFIX_DICTIONARIES).and_then(Id::parse) else { continue };
        if lookup(&id.0[..8].try_into().unwrap()).is_some() {
            continue;
        }
        let loaded = repo.get_sealed(&o.key, ObjectKind::Dictionary).and_then(|bytes| {
            let got = repo.sealer().id(&bytes);
            if got != id {
                return Err(Error::format(&o.key, FormatError::HashMismatch { want: id.to_hex(), got: got.to_hex() }));
            }
            Ok(bytes)
        });
        match loaded {
            Ok(bytes) => {
                register(id, &bytes, repo.config.compression_level);
            }
            // Removed between listing and reading: nothing uses it any more.
            Err(Error::Backend(crate::backend::BackendError::NotFound { .. })) => {}
            Err(e) => problems.push(format!("{}: unreadable: {e}", o.key)),
        }
    }
    Ok(problems)
}

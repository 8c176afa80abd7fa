//! Storage backends: the only way the repository touches storage.
//!
//! # Contract
//! A backend stores whole, immutable objects under `/`-separated keys.
//! - `put` makes the object visible atomically (readers see all of it or none)
//!   and durably (once `put` returns, the object survives a crash or power
//!   loss). Putting an existing key replaces it whole; the repository only does
//!   that for content-addressed keys whose bytes are then identical.
//! - `get` / `get_range` return exactly the requested bytes or an error; a
//!   missing key is `BackendError::NotFound`, a short object `ShortRead`.
//! - `list` returns every complete object whose key starts with `prefix`, in
//!   no particular order, never a partially written one.
//! - `delete` removes an object durably (once it returns, the object does
//!   not come back after a crash, so deletions happen in the order they
//!   were made); deleting a missing key is not an error.
//!
//! There is no rename, append or in-place update above this interface, so an
//! S3-compatible object store can implement it directly.

mod direct;
pub mod local;
pub mod memory;
pub mod s3;

use std::io;

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("object {key} not found")]
    NotFound { key: String },
    #[error("object {key}: wanted {wanted} bytes at offset {offset}, got {got}")]
    ShortRead { key: String, offset: u64, wanted: u64, got: u64 },
    #[error("object {key}: {source}")]
    Io { key: String, source: io::Error },
}

impl BackendError {
    pub fn io(key: &str, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            BackendError::NotFound { key: key.to_string() }
        } else {
            BackendError::Io { key: key.to_string(), source }
        }
    }
    /// True when the storage ran out of space (ENOSPC / EDQUOT).
    pub fn is_storage_full(&self) -> bool {
        match self {
            BackendError::Io { source, .. } => {
                source.kind() == io::ErrorKind::StorageFull
                    || source.kind() == io::ErrorKind::QuotaExceeded
                    || matches!(source.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
            }
            _ => false,
        }
    }
    pub fn key(&self) -> &str {
        match self {
            BackendError::NotFound { key } | BackendError::ShortRead { key, .. } | BackendError::Io { key, .. } => key,
        }
    }
}

pub type BResult<T> = Result<T, BackendError>;

/// Whole-object storage. See the module documentation for the contract.
pub trait Backend: Send + Sync {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()>;
    fn get(&self, key: &str) -> BResult<Vec<u8>>;
    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>>;
    fn list(&self, prefix: &str) -> BResult<Vec<ObjectInfo>>;
    fn delete(&self, key: &str) -> BResult<()>;
    /// Human-readable location, for messages.
    fn location(&self) -> String;
}

/// The conformance suite every backend must pass; tests call it per backend.
pub fn conformance(b: &dyn Backend) {
    assert!(b.list("data/").unwrap().is_empty());
    assert!(matches!(b.get("data/00/x"), Err(BackendError::NotFound { .. })));
    b.put("data/00/x", b"hello world").unwrap();
    b.put("index/y", b"").unwrap();
    assert_eq!(b.get("data/00/x").unwrap(), b"hello world");
    assert_eq!(b.get_range("data/00/x", 6, 5).unwrap(), b"world");
    assert!(matches!(b.get_range("data/00/x", 6, 50), Err(BackendError::ShortRead { .. })));
    assert_eq!(b.get("index/y").unwrap(), b"");
    b.put("data/00/x", b"replaced").unwrap();
    assert_eq!(b.get("data/00/x").unwrap(), b"replaced");
    let l = b.list("data/").unwrap();
    assert_eq!(l, vec![ObjectInfo { key: "data/00/x".into(), size: 8 }]);
    b.delete("data/00/x").unwrap();
    b.delete("data/00/x").unwrap();
    assert!(b.list("data/").unwrap().is_empty());
    assert_eq!(b.list("index/").unwrap().len(), 1);
}

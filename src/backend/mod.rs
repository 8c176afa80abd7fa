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
//! - `put_new` stores an object only if none exists under the key. When
//!   `creates_exclusively()` it is atomic against a concurrent `put_new` of
//!   the same key (a local `link(2)`, an S3 PUT with `If-None-Match: *`):
//!   exactly one of two racing creators gets `true`; otherwise (a store that
//!   ignores the condition, as Garage 2.5 does) it is a check, then a put.
//!   The repository needs it once, for `config` at `init`
//!   (format-spec/backends.md).
//! - `delete` removes an object durably (once it returns, the object does
//!   not come back after a crash, so deletions happen in the order they
//!   were made); deleting a missing key is not an error.
//!
//! There is no rename, append or in-place update above this interface, so an
//! S3-compatible object store can implement it directly.

mod aws_profile;
pub mod cached;
pub mod counted;
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
    /// The store answered, but refused the credentials (HTTP 401/403).
    #[error("{location} refused the credentials ({detail}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the key's permissions on the bucket")]
    Denied { location: String, detail: String },
    /// The store answered that the bucket does not exist.
    #[error("{location}: the bucket does not exist: create it (`aws s3 mb`, `garage bucket create`) or fix the name")]
    NoBucket { location: String },
    /// No answer within the retry budget (refused, reset, timed out).
    #[error("could not reach {location} ({detail}): check the endpoint and that the store is up")]
    Unreachable { location: String, detail: String },
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
            BackendError::Denied { location, .. }
            | BackendError::NoBucket { location }
            | BackendError::Unreachable { location, .. } => location,
        }
    }
}

pub type BResult<T> = Result<T, BackendError>;

/// In a wrapper backend's `impl Backend`: pass the store's properties
/// (exclusive create, parallelism, location) through from `self.inner`.
macro_rules! pass_through_properties {
    () => {
        fn creates_exclusively(&self) -> bool {
            self.inner.creates_exclusively()
        }
        fn parallelism(&self) -> usize {
            self.inner.parallelism()
        }
        fn location(&self) -> String {
            self.inner.location()
        }
    };
}
pub(crate) use pass_through_properties;

/// Whole-object storage. See the module documentation for the contract.
pub trait Backend: Send + Sync {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()>;
    fn get(&self, key: &str) -> BResult<Vec<u8>>;
    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>>;
    /// `get_range` of metadata (a tree, a source manifest) inside a pack:
    /// the same bytes; a caching wrapper keeps these and nothing else.
    fn get_range_meta(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
        self.get_range(key, offset, len)
    }
    /// Told, after `put` of `key` returned, that `data` at `offset` in it
    /// is metadata (what `get_range_meta` will ask for): a caching wrapper
    /// keeps it, so a later read costs no request. Others ignore it.
    fn written_meta(&self, _key: &str, _offset: u64, _data: &[u8]) {}
    /// Create `key` only if it does not exist; `false` if it did.
    fn put_new(&self, key: &str, data: &[u8]) -> BResult<bool>;
    /// True if `put_new` is atomic (see the contract).
    fn creates_exclusively(&self) -> bool {
        true
    }
    fn list(&self, prefix: &str) -> BResult<Vec<ObjectInfo>>;
    fn delete(&self, key: &str) -> BResult<()>;
    /// Requests worth having in flight at once (uploads of packs, ranged
    /// reads of a restore): a local disk gains nothing past two on the
    /// machines cairn targets; an object store hides its latency behind more.
    fn parallelism(&self) -> usize {
        2
    }
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
    assert_eq!(b.get_range_meta("data/00/x", 2, 3).unwrap(), b"pla");
    assert!(b.put_new("config", b"first").unwrap());
    assert!(!b.put_new("config", b"second").unwrap(), "a second create must not replace the first");
    if b.creates_exclusively() {
        // Racing creators: exactly one wins, and its bytes are what stays.
        let won: Vec<u8> = std::thread::scope(|s| {
            let racers: Vec<_> = (0..4u8).map(|i| s.spawn(move || (i, b.put_new("race", &[i; 64]).unwrap()))).collect();
            racers.into_iter().map(|r| r.join().unwrap()).filter(|r| r.1).map(|r| r.0).collect()
        });
        assert_eq!(won.len(), 1, "exactly one of four racing creators wins");
        assert_eq!(b.get("race").unwrap(), [won[0]; 64]);
        b.delete("race").unwrap();
    }
    assert_eq!(b.get("config").unwrap(), b"first");
    b.delete("config").unwrap();
    b.delete("data/00/x").unwrap();
    b.delete("data/00/x").unwrap();
    assert!(b.list("data/").unwrap().is_empty());
    assert_eq!(b.list("index/").unwrap().len(), 1);
}

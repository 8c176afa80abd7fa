//! A wrapper that counts the requests a backend makes and the bytes they
//! move, by operation: what a command cost on object storage (the CLI puts
//! them in its metrics as `cairn_storage_requests_total` and
//! `cairn_storage_bytes_total`). Put it directly over the store, under any
//! cache, so that only real requests count.

use super::{BResult, Backend, ObjectInfo};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Requests and bytes, by operation.
#[derive(Default, Debug)]
pub struct Requests {
    counts: [AtomicU64; OPS.len()],
    bytes: [AtomicU64; OPS.len()],
}

/// The operations counted, in the order of `Requests`' arrays.
pub const OPS: [&str; 5] = ["put", "get", "list", "delete", "head"];

impl Requests {
    fn add(&self, op: usize, bytes: u64) {
        self.counts[op].fetch_add(1, Ordering::Relaxed);
        self.bytes[op].fetch_add(bytes, Ordering::Relaxed);
    }
    /// (operation, requests, bytes) for every operation.
    pub fn totals(&self) -> Vec<(&'static str, u64, u64)> {
        (0..OPS.len())
            .map(|i| (OPS[i], self.counts[i].load(Ordering::Relaxed), self.bytes[i].load(Ordering::Relaxed)))
            .collect()
    }
}

pub struct Counted {
    inner: Arc<dyn Backend>,
    requests: Arc<Requests>,
}

impl Counted {
    pub fn new(inner: Arc<dyn Backend>, requests: Arc<Requests>) -> Self {
        Counted { inner, requests }
    }
}

const PUT: usize = 0;
const GET: usize = 1;
const LIST: usize = 2;
const DELETE: usize = 3;
const HEAD: usize = 4;

impl Backend for Counted {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()> {
        self.requests.add(PUT, data.len() as u64);
        self.inner.put(key, data)
    }
    fn put_new(&self, key: &str, data: &[u8]) -> BResult<bool> {
        // A HEAD, then a conditional PUT (see the S3 backend).
        self.requests.add(HEAD, 0);
        self.requests.add(PUT, data.len() as u64);
        self.inner.put_new(key, data)
    }
    fn get(&self, key: &str) -> BResult<Vec<u8>> {
        let r = self.inner.get(key);
        self.requests.add(GET, r.as_ref().map_or(0, |b| b.len() as u64));
        r
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
        let r = self.inner.get_range(key, offset, len);
        self.requests.add(GET, r.as_ref().map_or(0, |b| b.len() as u64));
        r
    }
    fn get_range_meta(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
        let r = self.inner.get_range_meta(key, offset, len);
        self.requests.add(GET, r.as_ref().map_or(0, |b| b.len() as u64));
        r
    }
    fn written_meta(&self, key: &str, offset: u64, data: &[u8]) {
        self.inner.written_meta(key, offset, data)
    }
    fn list(&self, prefix: &str) -> BResult<Vec<ObjectInfo>> {
        self.requests.add(LIST, 0);
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> BResult<()> {
        self.requests.add(DELETE, 0);
        self.inner.delete(key)
    }
    super::pass_through_properties!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_passes_through() {
        let req = Arc::new(Requests::default());
        let c = Counted::new(Arc::new(crate::backend::memory::MemoryBackend::new()), req.clone());
        crate::backend::conformance(&c);
        let t: std::collections::HashMap<_, _> = req.totals().into_iter().map(|(op, n, b)| (op, (n, b))).collect();
        // conformance: 3 puts (11 + 0 + 8 bytes) and put_new ×2 (+ 4 racing with 64 each)…
        assert_eq!(t["put"].0, 3 + 2 + 4);
        assert_eq!(t["put"].1, 11 + 8 + 5 + 6 + 4 * 64);
        assert!(t["get"].0 >= 6 && t["list"].0 == 4 && t["delete"].0 >= 3, "{t:?}");
    }
}

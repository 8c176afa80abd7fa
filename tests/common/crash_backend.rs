//! A backend that simulates a crash (power loss, or the process killed) at
//! a chosen write, for tests that reach the durability rules themselves.
//!
//! The backend contract (src/backend/mod.rs) makes a put or delete durable
//! when it returns, and promises nothing about one that has not returned.
//! So at the crash, exactly the writes that returned survive; the write in
//! flight either lands or not (`land`: it reached the disk, its caller
//! never heard); every later operation fails, as in a dead process. What
//! survives is then opened as a new repository, as after a reboot.
//! Unlike SIGKILL, nothing still in flight survives by luck (no page
//! cache), so a write order that relies on an unreturned write is caught.
#![allow(dead_code)]

use cairn::backend::memory::MemoryBackend;
use cairn::backend::{BResult, Backend, BackendError, ObjectInfo};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

pub struct CrashBackend {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    writes: AtomicUsize,
    /// The write (counted from 0) during which the crash happens.
    crash_at: usize,
    land: bool,
    crashed: AtomicBool,
}

fn dead(key: &str) -> BackendError {
    BackendError::Io { key: key.into(), source: std::io::Error::other("simulated crash") }
}

impl CrashBackend {
    /// Start from `objects`; crash during write number `crash_at`.
    pub fn new(objects: BTreeMap<String, Vec<u8>>, crash_at: usize, land: bool) -> Self {
        CrashBackend {
            objects: Mutex::new(objects),
            writes: AtomicUsize::new(0),
            crash_at,
            land,
            crashed: AtomicBool::new(false),
        }
    }

    /// One that never crashes: counts the writes of a step.
    pub fn counting(objects: BTreeMap<String, Vec<u8>>) -> Self {
        Self::new(objects, usize::MAX, false)
    }

    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// What survived: the objects of the repository after the reboot.
    pub fn survivors(&self) -> BTreeMap<String, Vec<u8>> {
        self.objects.lock().unwrap().clone()
    }

    /// Apply one write unless the crash has come; `apply` runs under the lock.
    fn write(&self, key: &str, apply: impl FnOnce(&mut BTreeMap<String, Vec<u8>>)) -> BResult<()> {
        let mut objects = self.objects.lock().unwrap();
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if self.crashed() || n > self.crash_at {
            return Err(dead(key));
        }
        if n == self.crash_at {
            self.crashed.store(true, Ordering::SeqCst);
            if self.land {
                apply(&mut objects);
            }
            return Err(dead(key));
        }
        apply(&mut objects);
        Ok(())
    }

    fn read<T>(&self, key: &str, f: impl FnOnce(&BTreeMap<String, Vec<u8>>) -> BResult<T>) -> BResult<T> {
        if self.crashed() {
            return Err(dead(key));
        }
        f(&self.objects.lock().unwrap())
    }
}

/// A plain in-memory backend holding `objects`.
pub fn memory(objects: &BTreeMap<String, Vec<u8>>) -> MemoryBackend {
    let m = MemoryBackend::new();
    for (k, v) in objects {
        m.put(k, v).unwrap();
    }
    m
}

/// Every object of a backend.
pub fn objects(b: &dyn Backend) -> BTreeMap<String, Vec<u8>> {
    b.list("").unwrap().into_iter().map(|o| (o.key.clone(), b.get(&o.key).unwrap())).collect()
}

impl Backend for CrashBackend {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()> {
        self.write(key, |o| {
            o.insert(key.to_string(), data.to_vec());
        })
    }
    fn put_new(&self, key: &str, data: &[u8]) -> BResult<bool> {
        let mut created = false;
        self.write(key, |o| {
            if !o.contains_key(key) {
                o.insert(key.to_string(), data.to_vec());
                created = true;
            }
        })?;
        Ok(created)
    }
    fn get(&self, key: &str) -> BResult<Vec<u8>> {
        self.read(key, |o| o.get(key).cloned().ok_or_else(|| BackendError::NotFound { key: key.into() }))
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
        let all = self.get(key)?;
        let end = offset.saturating_add(len);
        if end > all.len() as u64 {
            let got = (all.len() as u64).saturating_sub(offset);
            return Err(BackendError::ShortRead { key: key.into(), offset, wanted: len, got });
        }
        Ok(all[offset as usize..end as usize].to_vec())
    }
    fn list(&self, prefix: &str) -> BResult<Vec<ObjectInfo>> {
        self.read(prefix, |o| {
            Ok(o.range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| ObjectInfo { key: k.clone(), size: v.len() as u64 })
                .collect())
        })
    }
    fn delete(&self, key: &str) -> BResult<()> {
        self.write(key, |o| {
            o.remove(key);
        })
    }
    fn location(&self) -> String {
        "crash-simulating memory".into()
    }
}

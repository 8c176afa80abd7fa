//! An in-memory backend for unit tests and as the base of test wrappers.

use super::{BResult, Backend, BackendError, ObjectInfo};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryBackend {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Backend for MemoryBackend {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()> {
        self.objects.lock().unwrap().insert(key.to_string(), data.to_vec());
        Ok(())
    }
    fn put_new(&self, key: &str, data: &[u8]) -> BResult<bool> {
        let mut objects = self.objects.lock().unwrap();
        if objects.contains_key(key) {
            return Ok(false);
        }
        objects.insert(key.to_string(), data.to_vec());
        Ok(true)
    }
    fn get(&self, key: &str) -> BResult<Vec<u8>> {
        self.objects.lock().unwrap().get(key).cloned().ok_or(BackendError::NotFound { key: key.into() })
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
        let all = self.get(key)?;
        let end = offset.saturating_add(len);
        if end > all.len() as u64 {
            return Err(BackendError::ShortRead {
                key: key.into(),
                offset,
                wanted: len,
                got: (all.len() as u64).saturating_sub(offset),
            });
        }
        Ok(all[offset as usize..end as usize].to_vec())
    }
    fn list(&self, prefix: &str) -> BResult<Vec<ObjectInfo>> {
        let objs = self.objects.lock().unwrap();
        Ok(objs
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| ObjectInfo { key: k.clone(), size: v.len() as u64 })
            .collect())
    }
    fn delete(&self, key: &str) -> BResult<()> {
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
    fn location(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn conformance() {
        super::super::conformance(&super::MemoryBackend::new());
    }
}

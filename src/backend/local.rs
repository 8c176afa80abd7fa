//! A repository in a local directory.
//!
//! Each put writes a temporary file beside the target (`.tmp-` prefix, which
//! `list` never reports), fsyncs it, renames it into place and fsyncs the
//! directory, so a crash leaves either the old state or the whole new object.
//! A delete fsyncs the directory too, so deletions keep their order.

use super::{BResult, Backend, BackendError, ObjectInfo};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub struct LocalBackend {
    root: PathBuf,
}

const TMP_PREFIX: &str = ".tmp-";

/// A fresh temporary name in `dir` (`.tmp-` and 16 random hex digits):
/// never an object, never listed.
pub(crate) fn tmp_in(dir: &Path) -> PathBuf {
    let mut rnd = [0u8; 8];
    crate::format::id::random_bytes(&mut rnd);
    dir.join(format!("{TMP_PREFIX}{}", hex::encode(rnd)))
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        // Absolute, so walking up parents in `ensure_dir` always ends at `/`
        // (a relative root's parent chain ends in an empty path).
        let root = root.into();
        LocalBackend { root: std::path::absolute(&root).unwrap_or(root) }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// Create `dir` (and parents) and make the new entries durable.
    fn ensure_dir(&self, dir: &Path, key: &str) -> BResult<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf) else {
            return fs::create_dir_all(dir).map_err(|e| BackendError::io(key, e));
        };
        self.ensure_dir(&parent, key)?;
        match fs::create_dir(dir) {
            Ok(()) => fsync_dir(&parent).map_err(|e| BackendError::io(key, e)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(BackendError::io(key, e)),
        }
    }
}

impl LocalBackend {
    /// Run `write(tmp, target)` with a fresh temporary name beside the key's
    /// file (its directory made durable first), then fsync the directory;
    /// on an error the temporary file is removed.
    fn place<T>(&self, key: &str, write: impl FnOnce(&Path, &Path) -> std::io::Result<T>) -> BResult<T> {
        let target = self.path(key);
        let dir = target.parent().expect("key has a parent").to_path_buf();
        self.ensure_dir(&dir, key)?;
        let tmp = tmp_in(&dir);
        let result = write(&tmp, &target).and_then(|t| fsync_dir(&dir).map(|_| t));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| BackendError::io(key, e))
    }
}

pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Backend for LocalBackend {
    fn put(&self, key: &str, data: &[u8]) -> BResult<()> {
        self.place(key, |tmp, target| {
            if crate::failpoint::armed("put-partial") && key.starts_with("data/") {
                let mut f = File::create(tmp)?;
                f.write_all(&data[..data.len() / 2])?;
                f.sync_all()?;
                crate::failpoint::hit("put-partial");
                fs::remove_file(tmp)?;
            }
            super::direct::write_new_synced(tmp, data)?;
            fs::rename(tmp, target)
        })
    }

    /// Written and synced as a temporary file, then `link(2)`ed into place:
    /// the link fails with EEXIST if the key exists, atomically, where a
    /// rename would replace it.
    fn put_new(&self, key: &str, data: &[u8]) -> BResult<bool> {
        self.place(key, |tmp, target| {
            super::direct::write_new_synced(tmp, data)?;
            let created = match fs::hard_link(tmp, target) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(e),
            };
            fs::remove_file(tmp)?;
            Ok(created)
        })
    }

    fn get(&self, key: &str) -> BResult<Vec<u8>> {
        let mut f = File::open(self.path(key)).map_err(|e| BackendError::io(key, e))?;
        let mut v = Vec::new();
        f.read_to_end(&mut v).map_err(|e| BackendError::io(key, e))?;
        Ok(v)
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> BResult<Vec<u8>> {
        let f = File::open(self.path(key)).map_err(|e| BackendError::io(key, e))?;
        let mut buf = vec![0u8; len as usize];
        let mut got = 0usize;
        while got < buf.len() {
            match f.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(BackendError::io(key, e)),
            }
        }
        if got < buf.len() {
            return Err(BackendError::ShortRead { key: key.into(), offset, wanted: len, got: got as u64 });
        }
        Ok(buf)
    }

    fn list(&self, prefix: &str) -> BResult<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        // The prefix names a directory ("data/") or a key stem inside one.
        let (dir_part, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let base = self.root.join(dir_part);
        if !base.exists() {
            return Ok(out);
        }
        for entry in walkdir::WalkDir::new(&base).follow_links(false) {
            let entry = entry.map_err(|e| BackendError::io(prefix, e.into()))?;
            if !entry.file_type().is_file() || entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                continue;
            }
            let rel = entry.path().strip_prefix(&self.root).expect("under root");
            let key = rel.to_string_lossy().into_owned();
            if key.starts_with(prefix) {
                match entry.metadata() {
                    Ok(m) => out.push(ObjectInfo { key, size: m.len() }),
                    // Deleted between reading the directory and stat: not
                    // an object any more (a concurrent prune or forget).
                    Err(e) if e.io_error().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) => {}
                    Err(e) => return Err(BackendError::io(&key, e.into())),
                }
            }
        }
        Ok(out)
    }

    /// The directory is fsynced after the unlink: prune retires index
    /// files before it deletes the packs they name, and that order must
    /// survive a power loss too (a resurrected index file would name packs
    /// that are gone).
    fn delete(&self, key: &str) -> BResult<()> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => fsync_dir(path.parent().expect("key has a parent")).map_err(|e| BackendError::io(key, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BackendError::io(key, e)),
        }
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        super::super::conformance(&super::LocalBackend::new(dir.path().join("repo")));
    }
}

//! Restoring files and symlinks. Every chunk of every file is fetched pack
//! by pack in coalesced ranges (`pipeline::read`), checked against its id,
//! and written at its offsets into a temporary file beside each target;
//! a file is renamed into place only once all its chunks are written, with
//! its permission bits and mtime, so no file with wrong contents ever
//! appears under its real name.

use crate::format::id::Id;
use crate::format::tree::{Node, NodeKind};
use crate::pipeline::read::{read_blobs, ReadStats};
use crate::repo::Repository;
use crate::source::sibling;
use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One file being restored.
struct Pending<'a> {
    path: &'a Path,
    node: &'a Node,
    tmp: PathBuf,
    /// Chunk writes still to come; the last one finishes the file.
    left: AtomicUsize,
    failed: Mutex<Option<String>>,
}

impl Pending<'_> {
    fn fail(&self, why: String) {
        self.failed.lock().expect("failure slot").get_or_insert(why);
    }

    /// All chunks are in (or one failed): move the file into place, or
    /// remove what was written.
    fn finish(&self) {
        let mut failed = self.failed.lock().expect("failure slot");
        if failed.is_none() {
            if let Err(e) = place(&self.tmp, self.path, self.node) {
                *failed = Some(e);
            }
        }
        if failed.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Permission bits and mtime, then the rename into place.
fn place(tmp: &Path, path: &Path, node: &Node) -> Result<(), String> {
    fs::set_permissions(tmp, fs::Permissions::from_mode(node.mode & 0o7777)).map_err(|e| e.to_string())?;
    let mtime = file_time(node);
    filetime::set_file_times(tmp, mtime, mtime).map_err(|e| e.to_string())?;
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err("a directory is in the way; remove it first".into());
    }
    fs::rename(tmp, path).map_err(|e| e.to_string())
}

/// Restore every file of `files` (target path, node). Returns one line per
/// file that could not be restored, and what the reads cost.
pub fn restore_files(repo: &Repository, files: &[(PathBuf, &Node)]) -> (Vec<String>, ReadStats) {
    let mut errors = Vec::new();
    let mut pending: Vec<Pending> = Vec::with_capacity(files.len());
    let mut wanted: HashMap<Id, Vec<(u32, u64)>> = HashMap::new();
    for (path, node) in files {
        match prepare(repo, path, node) {
            Ok(tmp) => {
                let i = pending.len() as u32;
                let mut off = 0u64;
                for id in &node.content {
                    wanted.entry(*id).or_default().push((i, off));
                    off += repo.locate(id).map(|l| l.raw_length as u64).unwrap_or(0);
                }
                let left = AtomicUsize::new(node.content.len());
                pending.push(Pending { path, node, tmp, left, failed: Mutex::new(None) });
            }
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    for p in pending.iter().filter(|p| p.node.content.is_empty()) {
        p.finish();
    }
    let ids: Vec<Id> = wanted.keys().copied().collect();
    let stats = read_blobs(repo, &ids, &|id, got| {
        for &(i, off) in &wanted[id] {
            let p = &pending[i as usize];
            match got {
                Ok(data) if p.failed.lock().expect("failure slot").is_none() => {
                    let w = OpenOptions::new().write(true).open(&p.tmp).and_then(|f| f.write_all_at(data, off));
                    if let Err(e) = w {
                        p.fail(e.to_string());
                    }
                }
                Ok(_) => {}
                Err(e) => p.fail(format!("chunk {id}: {e}")),
            }
            if p.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                p.finish();
            }
        }
    });
    for p in &pending {
        if let Some(why) = p.failed.lock().expect("failure slot").as_ref() {
            errors.push(format!("{}: {why}", p.path.display()));
        }
    }
    (errors, stats)
}

/// Check the chunks add up to the recorded size and create the temporary
/// file at full length.
fn prepare(repo: &Repository, path: &Path, node: &Node) -> Result<PathBuf, String> {
    let mut size = 0u64;
    for id in &node.content {
        size += repo.locate(id).ok_or_else(|| format!("chunk {id} is not in the index"))?.raw_length as u64;
    }
    if size != node.size {
        return Err(format!("chunks add up to {size} bytes, the snapshot records {}", node.size));
    }
    let tmp = sibling(path, "cairn");
    let f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(|e| e.to_string())?;
    f.set_len(size).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        e.to_string()
    })?;
    Ok(tmp)
}

pub fn file_time(node: &Node) -> filetime::FileTime {
    filetime::FileTime::from_unix_time(
        node.mtime_ns.div_euclid(1_000_000_000),
        node.mtime_ns.rem_euclid(1_000_000_000) as u32,
    )
}

/// A symlink, created under a temporary name and renamed into place.
pub fn restore_symlink(path: &Path, node: &Node) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let tmp = sibling(path, "cairn");
    let target = std::ffi::OsStr::from_bytes(&node.target);
    let res = std::os::unix::fs::symlink(target, &tmp)
        .and_then(|()| set_meta(&tmp, node))
        .and_then(|()| fs::rename(&tmp, path));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(|e| format!("{}: {e}", path.display()))
}

/// Permission bits (not for symlinks) and mtime.
pub fn set_meta(path: &Path, node: &Node) -> std::io::Result<()> {
    let mtime = file_time(node);
    if node.kind == NodeKind::Symlink {
        return filetime::set_symlink_file_times(path, mtime, mtime);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(node.mode & 0o7777))?;
    filetime::set_file_times(path, mtime, mtime)
}

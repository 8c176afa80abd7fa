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

/// Files kept open between their chunk writes, at most. Chunks arrive in
/// pack order, which is mostly file order, so few files are open at once;
/// past this bound (chunks shared by many files) a write opens and closes
/// its file, staying far below the usual limit of 1024 descriptors.
/// Reopening for every chunk cost 10% of a 1 GiB restore (an open, a close
/// per chunk: 41,545 opens for 13,512 files; measured with strace -c).
const MAX_OPEN: usize = 256;

/// One file being restored.
struct Pending<'a> {
    path: &'a Path,
    node: &'a Node,
    tmp: PathBuf,
    /// Whether the temporary file was created, and the file while it is
    /// being written (see `MAX_OPEN`).
    file: Mutex<(bool, Option<fs::File>)>,
    /// Chunk writes still to come; the last one finishes the file.
    left: AtomicUsize,
    failed: Mutex<Option<String>>,
}

impl Pending<'_> {
    fn fail(&self, why: String) {
        self.failed.lock().expect("failure slot").get_or_insert(why);
    }

    fn write(&self, data: &[u8], off: u64, open: &AtomicUsize) -> std::io::Result<()> {
        let mut slot = self.file.lock().expect("file slot");
        if let Some(f) = slot.1.as_ref() {
            return f.write_all_at(data, off);
        }
        let f = if slot.0 { OpenOptions::new().write(true).open(&self.tmp)? } else { create(&self.tmp)? };
        slot.0 = true;
        f.write_all_at(data, off)?;
        if open.fetch_add(1, Ordering::AcqRel) < MAX_OPEN {
            slot.1 = Some(f);
        } else {
            open.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// All chunks are in (or one failed): move the file into place, or
    /// remove what was written.
    fn finish(&self, open: &AtomicUsize) {
        let (created, file) = std::mem::take(&mut *self.file.lock().expect("file slot"));
        if file.is_some() {
            open.fetch_sub(1, Ordering::AcqRel);
        }
        let mut failed = self.failed.lock().expect("failure slot");
        // A file without chunks (empty) is created here.
        let file = match file {
            None if !created && failed.is_none() => match create(&self.tmp) {
                Ok(f) => Some(f),
                Err(e) => {
                    *failed = Some(e.to_string());
                    return;
                }
            },
            f => f,
        };
        let exists = created || file.is_some();
        if failed.is_none() {
            if let Err(e) = place(&self.tmp, file, self.path, self.node) {
                *failed = Some(e);
            }
        }
        if failed.is_some() && exists {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The temporary file: a new name, never an existing file or symlink.
fn create(tmp: &Path) -> std::io::Result<fs::File> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp)
}

/// Permission bits and mtime (through the open file when there is one),
/// then the rename into place.
fn place(tmp: &Path, file: Option<fs::File>, path: &Path, node: &Node) -> Result<(), String> {
    let perm = fs::Permissions::from_mode(node.mode & 0o7777);
    let mtime = file_time(node);
    match file {
        Some(f) => {
            f.set_permissions(perm).map_err(|e| e.to_string())?;
            filetime::set_file_handle_times(&f, Some(mtime), Some(mtime)).map_err(|e| e.to_string())?;
        }
        None => {
            fs::set_permissions(tmp, perm).map_err(|e| e.to_string())?;
            filetime::set_file_times(tmp, mtime, mtime).map_err(|e| e.to_string())?;
        }
    }
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
    let open = AtomicUsize::new(0);
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
                let file = Mutex::new((false, None));
                pending.push(Pending { path, node, tmp, file, left, failed: Mutex::new(None) });
            }
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    for p in pending.iter().filter(|p| p.node.content.is_empty()) {
        p.finish(&open);
    }
    let ids: Vec<Id> = wanted.keys().copied().collect();
    let stats = read_blobs(repo, &ids, &|id, got| {
        if let Ok(data) = got {
            repo.progress().advance((data.len() * wanted[id].len()) as u64, 0);
        }
        for &(i, off) in &wanted[id] {
            let p = &pending[i as usize];
            match got {
                Ok(data) if p.failed.lock().expect("failure slot").is_none() => {
                    if let Err(e) = p.write(data, off, &open) {
                        p.fail(e.to_string());
                    }
                }
                Ok(_) => {}
                Err(e) => p.fail(format!("chunk {id}: {e}")),
            }
            if p.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                p.finish(&open);
                repo.progress().advance(0, 1);
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

/// Check the chunks add up to the recorded size and choose the temporary
/// name (the first chunk write creates the file and, with the others,
/// fills every byte of it).
fn prepare(repo: &Repository, path: &Path, node: &Node) -> Result<PathBuf, String> {
    let mut size = 0u64;
    for id in &node.content {
        size += repo.locate(id).ok_or_else(|| format!("chunk {id} is not in the index"))?.raw_length as u64;
    }
    if size != node.size {
        return Err(format!("chunks add up to {size} bytes, the snapshot records {}", node.size));
    }
    Ok(sibling(path, "cairn"))
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

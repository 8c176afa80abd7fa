//! Restore: the backup pipeline in reverse (backend → pack → unseal → verify
//! hash → file), with files written in parallel and each file's chunks
//! written in parallel at their offsets.
//!
//! Every file is written under a temporary name beside its target and
//! renamed into place only once all its chunks have been read and verified,
//! so a restore never leaves a file with wrong contents under its real name.

use crate::error::{Error, Result};
use crate::id::{random_bytes, Id};
use crate::repo::Repository;
use crate::snapshot::Snapshot;
use crate::tree::{Node, NodeKind};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub target: PathBuf,
    /// Glob patterns on paths inside the snapshot (`*` stays within one path
    /// component, `**` crosses them); a match includes the whole subtree.
    pub include: Vec<String>,
    pub overwrite: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    pub seconds: f64,
}

struct Item {
    rel: PathBuf,
    node: Node,
}

pub fn restore(repo: &Repository, snap: &Snapshot, opts: &RestoreOptions) -> Result<RestoreStats> {
    let start = std::time::Instant::now();
    let includes = build_globs(&opts.include)?;
    check_target(&opts.target, opts.overwrite)?;
    let items = plan(repo, snap, includes.as_ref())?;
    if items.is_empty() && !opts.include.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no path in the snapshot matches --include {}: run `cairn ls SNAPSHOT` to see its paths",
            opts.include.join(" --include ")
        )));
    }
    fn tw(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |e| Error::TargetWrite { path: path.to_path_buf(), source: e }
    }
    fs::create_dir_all(&opts.target).map_err(tw(&opts.target))?;

    let mut stats = RestoreStats::default();
    // Parents before children, so every file below is written into a
    // directory this loop has checked is a real one, never through a
    // symlink (node names are single components: `tree::check_name`).
    for it in items.iter().filter(|i| i.node.kind == NodeKind::Dir) {
        let p = opts.target.join(&it.rel);
        ensure_dir(&p, opts.overwrite).map_err(tw(&p))?;
        stats.dirs += 1;
    }
    let files: Vec<&Item> = items.iter().filter(|i| i.node.kind == NodeKind::File).collect();
    let errors: Vec<String> = files
        .par_iter()
        .filter_map(|it| restore_file(repo, &opts.target.join(&it.rel), &it.node).err())
        .chain(
            items
                .par_iter()
                .filter(|i| i.node.kind == NodeKind::Symlink)
                .filter_map(|it| restore_symlink(&opts.target.join(&it.rel), &it.node).err()),
        )
        .collect();
    stats.files = files.len() as u64;
    stats.bytes = files.iter().map(|f| f.node.size).sum();
    stats.symlinks = items.iter().filter(|i| i.node.kind == NodeKind::Symlink).count() as u64;
    // Directory metadata last, deepest first, so writing children does not
    // disturb a directory's mtime and a read-only directory is filled first.
    for it in items.iter().rev().filter(|i| i.node.kind == NodeKind::Dir) {
        let p = opts.target.join(&it.rel);
        set_meta(&p, &it.node).map_err(tw(&p))?;
    }
    if let Some(first) = errors.first() {
        return Err(Error::RestoreIncomplete { failed: errors.len(), total: items.len(), first: first.clone() });
    }
    stats.seconds = start.elapsed().as_secs_f64();
    Ok(stats)
}

/// Make `p` a real directory: keep one, create a missing one, and replace
/// a file or symlink in the way only with `--overwrite` (a symlink is
/// removed, never followed).
fn ensure_dir(p: &Path, overwrite: bool) -> std::io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) if overwrite => {
            fs::remove_file(p)?;
            fs::create_dir(p)
        }
        Ok(_) => Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "a file or symlink is in the way")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::create_dir(p),
        Err(e) => Err(e),
    }
}

fn build_globs(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = GlobBuilder::new(p.trim_start_matches('/'))
            .literal_separator(true)
            .build()
            .map_err(|e| Error::InvalidArgument(format!("--include {p:?} is not a valid glob: {e}")))?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| Error::InvalidArgument(format!("bad --include patterns: {e}")))
}

fn check_target(target: &Path, overwrite: bool) -> Result<()> {
    match fs::read_dir(target) {
        Ok(mut rd) => {
            if rd.next().is_some() && !overwrite {
                Err(Error::TargetNotEmpty(target.to_path_buf()))
            } else {
                Ok(())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::TargetWrite { path: target.to_path_buf(), source: e }),
    }
}

/// Every entry to restore, directories before their contents.
fn plan(repo: &Repository, snap: &Snapshot, includes: Option<&GlobSet>) -> Result<Vec<Item>> {
    let mut all = Vec::new();
    repo.walk(&snap.tree, Path::new(""), &mut |rel, node| {
        all.push(Item { rel: rel.to_path_buf(), node: node.clone() });
        Ok(())
    })?;
    let Some(globs) = includes else { return Ok(all) };
    let selected: Vec<bool> =
        all.iter().map(|it| it.rel.ancestors().any(|a| !a.as_os_str().is_empty() && globs.is_match(a))).collect();
    // Keep selected entries and the directories above them.
    let mut needed: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    for (it, sel) in all.iter().zip(&selected) {
        if *sel {
            needed.extend(it.rel.ancestors().map(Path::to_path_buf));
        }
    }
    Ok(all.into_iter().zip(selected).filter(|(it, sel)| *sel || needed.contains(&it.rel)).map(|(it, _)| it).collect())
}

fn tmp_name(path: &Path) -> PathBuf {
    sibling(path, "cairn")
}

/// `.NAME.TAG-RANDOM` beside `path`: a temporary name no one else uses.
pub(crate) fn sibling(path: &Path, tag: &str) -> PathBuf {
    let mut r = [0u8; 6];
    random_bytes(&mut r);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{tag}-{}", hex::encode(r)))
}

/// Write one file under a temporary name, verify, then rename into place.
fn restore_file(repo: &Repository, path: &Path, node: &Node) -> std::result::Result<(), String> {
    let tmp = tmp_name(path);
    let res = write_verified(repo, &tmp, node).and_then(|()| {
        if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            return Err("a directory is in the way; remove it first".into());
        }
        fs::rename(&tmp, path).map_err(|e| e.to_string())
    });
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(|e| format!("{}: {e}", path.display()))
}

/// Write the file's chunks, each verified against its id, then its
/// permission bits and mtime, all through the open descriptor.
fn write_verified(repo: &Repository, tmp: &Path, node: &Node) -> std::result::Result<(), String> {
    let mut offsets = Vec::with_capacity(node.content.len());
    let mut off = 0u64;
    for id in &node.content {
        let loc = repo.locate(id).ok_or_else(|| format!("chunk {id} is not in the index"))?;
        offsets.push((off, *id));
        off += loc.raw_length as u64;
    }
    if off != node.size {
        return Err(format!("chunks add up to {off} bytes, the snapshot records {}", node.size));
    }
    let f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp).map_err(|e| e.to_string())?;
    let write = |(off, id): &(u64, Id)| -> std::result::Result<(), String> {
        // read_blob verifies the BLAKE3 of the plaintext against the id.
        let data = repo.read_blob(id).map_err(|e| e.to_string())?;
        f.write_all_at(&data, *off).map_err(|e| e.to_string())
    };
    if offsets.len() > 1 {
        // Chunks are written in parallel, out of order.
        f.set_len(node.size).map_err(|e| e.to_string())?;
        offsets.par_iter().try_for_each(write)?;
    } else {
        offsets.iter().try_for_each(write)?;
    }
    f.set_permissions(fs::Permissions::from_mode(node.mode & 0o7777)).map_err(|e| e.to_string())?;
    let mtime = file_time(node);
    filetime::set_file_handle_times(&f, Some(mtime), Some(mtime)).map_err(|e| e.to_string())
}

fn file_time(node: &Node) -> filetime::FileTime {
    filetime::FileTime::from_unix_time(
        node.mtime_ns.div_euclid(1_000_000_000),
        node.mtime_ns.rem_euclid(1_000_000_000) as u32,
    )
}

fn restore_symlink(path: &Path, node: &Node) -> std::result::Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tmp_name(path);
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
fn set_meta(path: &Path, node: &Node) -> std::io::Result<()> {
    let mtime = file_time(node);
    if node.kind == NodeKind::Symlink {
        return filetime::set_symlink_file_times(path, mtime, mtime);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(node.mode & 0o7777))?;
    filetime::set_file_times(path, mtime, mtime)
}

//! `dump`: one entry of a snapshot written to a stream, without a target
//! directory: a file as its bytes; a directory (or the whole snapshot) as
//! a tar archive; a source node (a database, a Chroma directory, a Redis
//! RDB) as what its kind's restore writes, verified as every restore is,
//! then streamed (a file) or archived (a directory). Every chunk is
//! checked against its id when read, and a file's length against its node.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::repo::Repository;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dumped {
    /// A file's bytes (a snapshot file, or a source node restored as one file).
    File,
    /// A tar archive.
    Tar,
}

/// Write the entry at `path` (from the snapshot's root; empty or `/` for
/// all of it) to `out`.
pub fn dump(repo: &Repository, snap: &Snapshot, path: &str, out: &mut dyn Write) -> Result<Dumped> {
    let rel = PathBuf::from(path.trim_matches('/'));
    if rel.as_os_str().is_empty() {
        let mut tar = tar::Builder::new(out);
        append_tree(repo, &mut tar, &snap.tree, Path::new(""))?;
        tar.finish().map_err(write_err)?;
        return Ok(Dumped::Tar);
    }
    let node = repo.find_path(&snap.tree, &rel)?.ok_or_else(|| Error::PathNotInSnapshot(rel.display().to_string()))?;
    match node.kind {
        NodeKind::File => {
            copy_chunks(repo, &node, out)?;
            Ok(Dumped::File)
        }
        NodeKind::Dir => {
            let mut tar = tar::Builder::new(out);
            append(repo, &mut tar, &rel, &node)?;
            tar.finish().map_err(write_err)?;
            Ok(Dumped::Tar)
        }
        NodeKind::Symlink => Err(Error::InvalidArgument(format!(
            "/{} is a symlink to {}: dump what it points to",
            rel.display(),
            String::from_utf8_lossy(&node.target)
        ))),
        NodeKind::Source(_) => with_restored(repo, &node, &rel, |restored| {
            if restored.is_dir() {
                let mut tar = tar::Builder::new(out);
                tar.append_dir_all(&rel, restored).map_err(write_err)?;
                tar.finish().map_err(write_err)?;
                Ok(Dumped::Tar)
            } else {
                let mut f = std::fs::File::open(restored).map_err(write_err)?;
                std::io::copy(&mut f, out).map_err(write_err)?;
                Ok(Dumped::File)
            }
        }),
    }
}

fn write_err(e: std::io::Error) -> Error {
    Error::TargetWrite { path: "<output>".into(), source: e }
}

/// Restore a source node into a private temporary directory (removed
/// afterwards, however `then` ends) and hand `then` what was restored.
fn with_restored<T>(repo: &Repository, node: &Node, rel: &Path, then: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let kind = crate::source::of_node(node, rel)?;
    let dir = tempfile::Builder::new().prefix("cairn-dump-").tempdir().map_err(write_err)?;
    let at = dir.path().join(String::from_utf8_lossy(&node.name).as_ref());
    kind.restore(repo, node, &at, &crate::source::RestoreOptions::default())?;
    then(&at)
}

/// The chunks of a file in order, each checked, then its length.
fn copy_chunks(repo: &Repository, node: &Node, out: &mut dyn Write) -> Result<()> {
    std::io::copy(&mut Chunks::of(repo, node), out).map(|_| ()).map_err(io_error)
}

/// A repository error carried through `std::io::Read`.
#[derive(Debug)]
struct Carried(Error);
impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for Carried {}

/// The repository error a read carried, else a failed write of the output.
fn io_error(e: std::io::Error) -> Error {
    if !e.get_ref().is_some_and(|i| i.is::<Carried>()) {
        return write_err(e);
    }
    match e.into_inner().map(|i| i.downcast::<Carried>()) {
        Some(Ok(c)) => c.0,
        _ => Error::InvalidArgument("a read failed".into()),
    }
}

/// A file's contents read chunk by chunk, as a `Read`; at the end, an
/// error unless exactly the node's size came out.
struct Chunks<'a> {
    repo: &'a Repository,
    node: &'a Node,
    next: usize,
    buf: Vec<u8>,
    pos: usize,
    written: u64,
}

impl<'a> Chunks<'a> {
    fn of(repo: &'a Repository, node: &'a Node) -> Self {
        Chunks { repo, node, next: 0, buf: vec![], pos: 0, written: 0 }
    }
}

impl Read for Chunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let carry = |e| std::io::Error::other(Carried(e));
        while self.pos == self.buf.len() {
            let Some(id) = self.node.content.get(self.next) else {
                if self.written != self.node.size {
                    let why = format!("its chunks hold {} bytes, its entry says {}", self.written, self.node.size);
                    let name = String::from_utf8_lossy(&self.node.name).into_owned();
                    return Err(carry(Error::format(name, crate::format::FormatError::Decode(why))));
                }
                return Ok(0);
            };
            self.buf = self.repo.read_blob(id).map_err(carry)?;
            (self.next, self.pos) = (self.next + 1, 0);
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.written += n as u64;
        Ok(n)
    }
}

type Tar<'o> = tar::Builder<&'o mut dyn Write>;

/// Every entry of the tree `ids` below `at`.
fn append_tree(repo: &Repository, tar: &mut Tar, ids: &[Id], at: &Path) -> Result<()> {
    for n in repo.load_tree(ids)? {
        let rel = at.join(OsStr::from_bytes(&n.name));
        append(repo, tar, &rel, &n)?;
    }
    Ok(())
}

/// One entry (a directory with everything below it) as `rel`.
fn append(repo: &Repository, tar: &mut Tar, rel: &Path, n: &Node) -> Result<()> {
    pax_mtime(tar, n.mtime_ns)?;
    let mut h = tar::Header::new_gnu();
    h.set_mode(n.mode & 0o7777);
    h.set_uid(n.uid as u64);
    h.set_gid(n.gid as u64);
    h.set_mtime((n.mtime_ns.max(0) / 1_000_000_000) as u64);
    match n.kind {
        NodeKind::Dir => {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            tar.append_data(&mut h, rel, std::io::empty()).map_err(write_err)?;
            append_tree(repo, tar, &n.subtree, rel)
        }
        NodeKind::File => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(n.size);
            tar.append_data(&mut h, rel, Chunks::of(repo, n)).map_err(io_error)
        }
        NodeKind::Symlink => {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            let target = PathBuf::from(OsStr::from_bytes(&n.target));
            tar.append_link(&mut h, rel, target).map_err(write_err)
        }
        NodeKind::Source(_) => with_restored(repo, n, rel, |restored| {
            match restored.is_dir() {
                true => tar.append_dir_all(rel, restored),
                false => tar.append_path_with_name(restored, rel),
            }
            .map_err(write_err)
        }),
    }
}

/// A PAX extended header giving the next entry's mtime to the nanosecond
/// (a tar header holds whole seconds; GNU tar and bsdtar read this).
fn pax_mtime(tar: &mut Tar, ns: i64) -> Result<()> {
    let value = format!("{}.{:09}", ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    let body = format!(" mtime={value}\n");
    // The record starts with its own length in decimal, digits included.
    let mut len = body.len() + 1;
    while len != body.len() + len.to_string().len() {
        len = body.len() + len.to_string().len();
    }
    let record = format!("{len}{body}");
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_path("PaxHeader").map_err(write_err)?;
    h.set_mode(0o644);
    h.set_size(record.len() as u64);
    h.set_cksum();
    tar.append(&h, record.as_bytes()).map_err(write_err)
}

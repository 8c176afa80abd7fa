//! The FUSE side of `mount`: inodes made as directories are listed, and
//! the read-only operations (lookup, getattr, readdir, readlink, open,
//! read). A file is read chunk by chunk (each checked against its id when
//! read), the chunk holding an offset found by the chunks' sizes in the
//! index; the last chunk read is kept, as reads come in order.

use super::Layout;
use crate::error::Result;
use crate::format::id::Id;
use crate::format::tree::{Node, NodeKind};
use crate::repo::Repository;
use fuser::{FileAttr, FileType, Filesystem, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen, Request};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nothing below a mount changes, so the kernel may keep what it learns.
const TTL: Duration = Duration::from_secs(3600);

enum Kind {
    /// A folder of the layout; its children are made with it.
    Virtual,
    /// A snapshot's root or one of its directories.
    Tree(Vec<Id>),
    File(Node),
    Link(Vec<u8>),
    /// A source node: restored into the temporary directory on lookup.
    Source(Node),
    /// A file or directory in a restored source's temporary copy.
    Real(PathBuf),
}

struct Inode {
    kind: Kind,
    attr: FileAttr,
    children: Option<Vec<(OsString, u64)>>,
}

pub(crate) struct Fs {
    repo: Repository,
    inodes: Vec<Inode>,
    temp: tempfile::TempDir,
    /// Per open file: the end offset of each chunk.
    ends: HashMap<u64, Vec<u64>>,
    last: Option<(Id, Vec<u8>)>,
}

fn time(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

fn attr(kind: FileType, perm: u32, size: u64, mtime_ns: i64, uid: u32, gid: u32) -> FileAttr {
    let t = time(mtime_ns);
    FileAttr {
        ino: 0,
        size,
        blocks: size.div_ceil(512),
        atime: t,
        mtime: t,
        ctime: t,
        crtime: t,
        kind,
        perm: (perm & 0o7777) as u16,
        nlink: 1,
        uid,
        gid,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

fn node_attr(n: &Node) -> FileAttr {
    let kind = match n.kind {
        NodeKind::Dir => FileType::Directory,
        NodeKind::Symlink => FileType::Symlink,
        NodeKind::File => FileType::RegularFile,
        NodeKind::Source(_) => match crate::source::by_node(n.kind).is_some_and(|k| k.restores_to_dir()) {
            true => FileType::Directory,
            false => FileType::RegularFile,
        },
    };
    attr(kind, n.mode, n.size, n.mtime_ns, n.uid, n.gid)
}

impl Fs {
    pub(crate) fn new(repo: Repository, layout: Layout) -> Result<Fs> {
        let temp = tempfile::Builder::new()
            .prefix("cairn-mount-")
            .tempdir()
            .map_err(|e| crate::Error::TargetWrite { path: std::env::temp_dir(), source: e })?;
        let now = jiff::Timestamp::now().as_nanosecond() as i64;
        let dir = |ns| attr(FileType::Directory, 0o555, 0, ns, 0, 0);
        let mut fs = Fs { repo, inodes: vec![], temp, ends: HashMap::new(), last: None };
        // Inode 0 is unused; 1 is the root.
        fs.add(Kind::Virtual, dir(now));
        fs.add(Kind::Virtual, dir(now));
        let mut top = Vec::new();
        for (folder, groups) in layout.folders {
            let f = fs.add(Kind::Virtual, dir(now));
            let mut below = Vec::new();
            for (group, snaps) in groups {
                let parent = match group.is_empty() {
                    true => f,
                    false => {
                        let g = fs.add(Kind::Virtual, dir(now));
                        below.push((OsString::from(group), g));
                        g
                    }
                };
                let entries = fs.snapshot_entries(snaps)?;
                fs.inodes[parent as usize].children = Some(entries);
            }
            if !below.is_empty() {
                fs.inodes[f as usize].children = Some(below);
            }
            fs.inodes[f as usize].children.get_or_insert_with(Vec::new);
            top.push((OsString::from(folder), f));
        }
        fs.inodes[1].children = Some(top);
        Ok(fs)
    }

    fn snapshot_entries(&mut self, snaps: super::Named) -> Result<Vec<(OsString, u64)>> {
        let mut out = Vec::new();
        for (name, (id, ns)) in snaps {
            let tree = self.repo.load_snapshot(&id)?.tree;
            let ino = self.add(Kind::Tree(tree), attr(FileType::Directory, 0o555, 0, ns, 0, 0));
            out.push((OsString::from(name), ino));
        }
        Ok(out)
    }

    fn add(&mut self, kind: Kind, mut attr: FileAttr) -> u64 {
        let ino = self.inodes.len() as u64;
        attr.ino = ino;
        self.inodes.push(Inode { kind, attr, children: None });
        ino
    }

    /// The children of a directory inode, made on first use.
    fn children(&mut self, ino: u64) -> std::result::Result<Vec<(OsString, u64)>, i32> {
        let i = self.inodes.get(ino as usize).ok_or(libc::ENOENT)?;
        if let Some(c) = &i.children {
            return Ok(c.clone());
        }
        let made = match &i.kind {
            Kind::Tree(ids) => {
                let nodes = self.repo.load_tree(&ids.clone()).map_err(|_| libc::EIO)?;
                nodes.into_iter().map(|n| (OsString::from(OsStr::from_bytes(&n.name)), n)).collect::<Vec<_>>()
            }
            Kind::Real(p) => {
                let p = p.clone();
                let rd = std::fs::read_dir(&p).map_err(|_| libc::EIO)?;
                let mut out = Vec::new();
                for e in rd.flatten() {
                    let c = self.real(e.path())?;
                    out.push((e.file_name(), c));
                }
                self.inodes[ino as usize].children = Some(out.clone());
                return Ok(out);
            }
            _ => return Err(libc::ENOTDIR),
        };
        let mut out = Vec::new();
        for (name, n) in made {
            let a = node_attr(&n);
            let kind = match n.kind {
                NodeKind::Dir => Kind::Tree(n.subtree.clone()),
                NodeKind::File => Kind::File(n),
                NodeKind::Symlink => Kind::Link(n.target.clone()),
                NodeKind::Source(_) => Kind::Source(n),
            };
            out.push((name, self.add(kind, a)));
        }
        self.inodes[ino as usize].children = Some(out.clone());
        Ok(out)
    }

    /// An inode for a path in a restored copy.
    fn real(&mut self, p: PathBuf) -> std::result::Result<u64, i32> {
        let m = std::fs::symlink_metadata(&p).map_err(|_| libc::EIO)?;
        let kind = if m.is_dir() { FileType::Directory } else { FileType::RegularFile };
        let a = attr(kind, m.mode(), m.len(), m.mtime() * 1_000_000_000 + m.mtime_nsec(), m.uid(), m.gid());
        Ok(self.add(Kind::Real(p), a))
    }

    /// Restore a source node on first lookup; it becomes its restored copy.
    fn materialize(&mut self, ino: u64) -> std::result::Result<(), i32> {
        let Kind::Source(node) = &self.inodes[ino as usize].kind else { return Ok(()) };
        let node = node.clone();
        let kind = crate::source::by_node(node.kind).ok_or(libc::EIO)?;
        let at = self.temp.path().join(ino.to_string()).join(OsStr::from_bytes(&node.name));
        std::fs::create_dir_all(at.parent().expect("has a parent")).map_err(|_| libc::EIO)?;
        kind.restore(&self.repo, &node, &at, &crate::source::RestoreOptions::default()).map_err(|_| libc::EIO)?;
        let fresh = self.real(at.clone())?;
        let a = self.inodes[fresh as usize].attr;
        let i = &mut self.inodes[ino as usize];
        (i.kind, i.attr) = (Kind::Real(at), FileAttr { ino, ..a });
        Ok(())
    }

    fn read_at(&mut self, ino: u64, offset: u64, size: usize) -> std::result::Result<Vec<u8>, i32> {
        let node = match &self.inodes.get(ino as usize).ok_or(libc::ENOENT)?.kind {
            Kind::File(n) => n.clone(),
            Kind::Real(p) => {
                use std::os::unix::fs::FileExt;
                let f = std::fs::File::open(p).map_err(|_| libc::EIO)?;
                let mut buf = vec![0; size];
                let n = f.read_at(&mut buf, offset).map_err(|_| libc::EIO)?;
                buf.truncate(n);
                return Ok(buf);
            }
            _ => return Err(libc::EISDIR),
        };
        if !self.ends.contains_key(&ino) {
            let mut end = 0u64;
            let mut ends = Vec::with_capacity(node.content.len());
            for id in &node.content {
                end += self.repo.locate(id).ok_or(libc::EIO)?.raw_length as u64;
                ends.push(end);
            }
            self.ends.insert(ino, ends);
        }
        let ends = &self.ends[&ino];
        let mut out = Vec::with_capacity(size);
        let mut i = ends.partition_point(|&e| e <= offset);
        let mut at = offset;
        while out.len() < size && i < node.content.len() {
            let id = node.content[i];
            if self.last.as_ref().is_none_or(|(l, _)| *l != id) {
                self.last = Some((id, self.repo.read_blob(&id).map_err(|_| libc::EIO)?));
            }
            let data = &self.last.as_ref().expect("just read").1;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            let from = (at - start) as usize;
            let take = (size - out.len()).min(data.len().saturating_sub(from));
            out.extend_from_slice(&data[from..from + take]);
            at += take as u64;
            i += 1;
        }
        Ok(out)
    }
}

impl Filesystem for Fs {
    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        let found = self.children(parent).map(|c| c.into_iter().find(|(n, _)| n == name).map(|(_, i)| i));
        match found {
            Ok(Some(ino)) => match self.materialize(ino) {
                Ok(()) => reply.entry(&TTL, &self.inodes[ino as usize].attr, 0),
                Err(e) => reply.error(e),
            },
            Ok(None) => reply.error(libc::ENOENT),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match self.inodes.get(ino as usize) {
            Some(i) if ino > 0 => reply.attr(&TTL, &i.attr),
            _ => reply.error(libc::ENOENT),
        }
    }

    fn readlink(&mut self, _req: &Request<'_>, ino: u64, reply: ReplyData) {
        match self.inodes.get(ino as usize).map(|i| &i.kind) {
            Some(Kind::Link(t)) => reply.data(t),
            _ => reply.error(libc::EINVAL),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(libc::EROFS);
        }
        match self.inodes.get(ino as usize).map(|i| &i.kind) {
            Some(Kind::File(_) | Kind::Real(_)) => reply.opened(0, 0),
            Some(_) => reply.error(libc::EISDIR),
            None => reply.error(libc::ENOENT),
        }
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock: Option<u64>,
        reply: ReplyData,
    ) {
        match self.read_at(ino, offset.max(0) as u64, size as usize) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(&mut self, _req: &Request<'_>, ino: u64, _fh: u64, offset: i64, mut reply: ReplyDirectory) {
        let children = match self.children(ino) {
            Ok(c) => c,
            Err(e) => return reply.error(e),
        };
        let dots = [(OsString::from("."), ino), (OsString::from(".."), ino)];
        for (i, (name, child)) in dots.into_iter().chain(children).enumerate().skip(offset.max(0) as usize) {
            let kind = self.inodes[child as usize].attr.kind;
            if reply.add(child, i as i64 + 1, kind, &name) {
                break;
            }
        }
        reply.ok();
    }
}

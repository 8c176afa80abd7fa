//! Capturing a file tree: walks a path in name order (walkdir, no symlink
//! following), turns each entry into a tree node, streams file contents
//! through the chunker into the blob writer, and reuses the chunk list of a
//! file unchanged since the parent snapshot.

use super::base_node;
use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::tree::{Node, NodeKind, TreeBuilder, FLAG_CHANGED_WHILE_READ};
use crate::format::ObjectKind;
use crate::pipeline::write::BlobWriter;
use crate::repo::Repository;
use crate::source::CaptureStats;
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A source read error, or an error storing what was read.
enum ReadError {
    Io(std::io::Error),
    Store(Error),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Archives file trees into tree blobs through one blob writer.
pub struct FileArchiver<'a, 'r> {
    pub writer: &'a mut BlobWriter<'r>,
    pub force: bool,
    pub stats: CaptureStats,
    pub warnings: Vec<String>,
    /// Read buffer, reused for every file.
    pub buf: Vec<u8>,
    /// Entries not stored (an excluded directory is not entered).
    pub exclude: &'a super::exclude::Exclude,
}

struct Frame {
    node: Node,
    builder: TreeBuilder,
    parent: ParentCursor,
}

/// The entries of a directory in the parent snapshot, read one tree blob at
/// a time in name order alongside the walk (which visits names in the same
/// byte order), so a directory of a million files never sits in memory.
#[derive(Default)]
struct ParentCursor {
    blobs: std::collections::VecDeque<Id>,
    nodes: std::collections::VecDeque<Node>,
}

impl ParentCursor {
    fn new(parent: Option<&Node>) -> Self {
        match parent {
            Some(p) if p.kind == NodeKind::Dir => {
                ParentCursor { blobs: p.subtree.iter().copied().collect(), nodes: Default::default() }
            }
            _ => Self::default(),
        }
    }

    /// The parent's entry called `name`; names must be asked in increasing
    /// order. A parent tree that cannot be read only costs re-reading the
    /// files below it (a warning says so), never the backup.
    fn find(&mut self, repo: &Repository, name: &[u8], warnings: &mut Vec<String>) -> Option<Node> {
        loop {
            while let Some(front) = self.nodes.front() {
                match front.name.as_slice().cmp(name) {
                    std::cmp::Ordering::Less => {
                        self.nodes.pop_front();
                    }
                    std::cmp::Ordering::Equal => return self.nodes.pop_front(),
                    std::cmp::Ordering::Greater => return None,
                }
            }
            let id = self.blobs.pop_front()?;
            match repo.read_tree_blob(&id) {
                Ok(t) => self.nodes = t.nodes.into(),
                Err(e) => {
                    warnings.push(format!(
                        "the parent snapshot's tree {id} is unreadable ({e}); files there are read again"
                    ));
                    self.blobs.clear();
                    return None;
                }
            }
        }
    }
}

/// Counts a file as done when its reading ends, however it ends.
struct Done<'r>(&'r Repository);
impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.progress().advance(0, 1);
    }
}

/// True if the file starts with SQLite's header string.
fn sqlite_header(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == b"SQLite format 3\0"
}

/// How many times a file that changes while read is read again.
const CHANGED_RETRIES: usize = 2;

impl<'a, 'r> FileArchiver<'a, 'r> {
    fn store_tree(&mut self) -> impl FnMut(Vec<u8>) -> Result<Id> + use<'_, 'a, 'r> {
        let writer = &mut *self.writer;
        move |bytes| writer.add(ObjectKind::Tree, &bytes)
    }

    /// Archive `root` (file, symlink or directory) as a node called `name`.
    /// `parent` is the node at the same place in the parent snapshot.
    pub fn archive(&mut self, root: &Path, name: Vec<u8>, parent: Option<&Node>) -> Result<Option<Node>> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut result = None;
        let exclude = self.exclude;
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .same_file_system(exclude.one_file_system)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                let rel = || e.path().strip_prefix(root).unwrap_or(e.path());
                e.depth() == 0 || !(exclude.excludes(rel()) || (e.file_type().is_dir() && exclude.marked(e.path())))
            });
        for entry in walker {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(root).to_path_buf();
                Error::SourceRead { path, source: e.into() }
            })?;
            while stack.len() > entry.depth() {
                let done = self.close_dir(stack.pop().expect("non-empty"))?;
                self.place(&mut stack, &mut result, done)?;
            }
            self.writer.repo().check_cancel()?;
            let path = entry.path();
            let meta =
                entry.metadata().map_err(|e| Error::SourceRead { path: path.to_path_buf(), source: e.into() })?;
            let name = if entry.depth() == 0 { name.clone() } else { entry.file_name().as_bytes().to_vec() };
            let prev: Option<Node> = match stack.last_mut() {
                Some(f) => f.parent.find(self.writer.repo(), &name, &mut self.warnings),
                None => parent.cloned(),
            };
            let ft = meta.file_type();
            let node = if ft.is_dir() {
                let node = base_node(name, NodeKind::Dir, &meta);
                stack.push(Frame { node, builder: TreeBuilder::new(), parent: ParentCursor::new(prev.as_ref()) });
                self.stats.dirs += 1;
                continue;
            } else if ft.is_file() {
                self.hint_live_database(path, entry.depth());
                self.archive_file(path, name, &meta, prev.as_ref())?
            } else if ft.is_symlink() {
                let target =
                    std::fs::read_link(path).map_err(|e| Error::SourceRead { path: path.to_path_buf(), source: e })?;
                let mut node = base_node(name, NodeKind::Symlink, &meta);
                node.target = target.as_os_str().as_bytes().to_vec();
                node.size = node.target.len() as u64;
                self.stats.symlinks += 1;
                node
            } else {
                self.warnings.push(format!("skipped {}: sockets, FIFOs and devices are not backed up", path.display()));
                continue;
            };
            self.place(&mut stack, &mut result, node)?;
        }
        while let Some(f) = stack.pop() {
            let done = self.close_dir(f)?;
            self.place(&mut stack, &mut result, done)?;
        }
        Ok(result)
    }

    /// A database in WAL mode with its `-wal` beside it is being written:
    /// copied as plain files its pages may be torn, and `sqlite:PATH` takes
    /// a consistent one. Said once per database, when its `-wal` is met in
    /// a walk (no extra stat per file), or for a database given alone.
    fn hint_live_database(&mut self, path: &Path, depth: usize) {
        let s = path.as_os_str().as_bytes();
        let db = match s.strip_suffix(b"-wal") {
            Some(base) => Some(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(base))),
            None if depth == 0 && Path::new(&format!("{}-wal", path.display())).exists() => Some(path.to_path_buf()),
            None => None,
        };
        if let Some(db) = db.filter(|d| d.is_file()) {
            self.warnings.push(format!(
                "{} looks like a live SQLite database (its -wal is beside it): copied as plain files it may be torn; back it up as sqlite:{} for a consistent snapshot",
                db.display(),
                db.display()
            ));
            return;
        }
        // No -wal: a database given alone, or named like one in a tree, is
        // recognised by its header (one 16-byte read, only for those).
        let named = [".db", ".sqlite", ".sqlite3"].iter().any(|x| s.ends_with(x.as_bytes()));
        if (depth == 0 || named) && sqlite_header(path) {
            self.warnings.push(format!(
                "{} is a SQLite database: copied as a plain file it is torn if written meanwhile; back it up as sqlite:{} for a consistent snapshot",
                path.display(),
                path.display()
            ));
        }
    }

    fn place(&mut self, stack: &mut [Frame], result: &mut Option<Node>, node: Node) -> Result<()> {
        match stack.last_mut() {
            Some(top) => {
                let mut store = self.store_tree();
                top.builder.push(node, &mut store)
            }
            None => {
                *result = Some(node);
                Ok(())
            }
        }
    }

    fn close_dir(&mut self, frame: Frame) -> Result<Node> {
        let mut node = frame.node;
        let mut store = self.store_tree();
        node.subtree = frame.builder.finish(&mut store)?;
        Ok(node)
    }

    fn archive_file(&mut self, path: &Path, name: Vec<u8>, meta: &Metadata, prev: Option<&Node>) -> Result<Node> {
        let mut node = base_node(name, NodeKind::File, meta);
        node.size = meta.len();
        self.stats.bytes_logical += node.size;
        if let Some(p) = prev.filter(|p| p.kind == NodeKind::File) {
            let same = p.size == node.size
                && p.mtime_ns == node.mtime_ns
                && p.ctime_ns == node.ctime_ns
                && p.inode == node.inode
                && p.flags & FLAG_CHANGED_WHILE_READ == 0;
            let stored = p.content.iter().all(|id| self.writer.can_reuse(id));
            if same && stored && !self.force {
                node.content = p.content.clone();
                self.stats.files_unmodified += 1;
                self.writer.repo().progress().advance(node.size, 1);
                return Ok(node);
            }
            self.stats.files_changed += 1;
        } else {
            self.stats.files_new += 1;
        }
        let read_err = |e| Error::SourceRead { path: path.to_path_buf(), source: e };
        self.writer.repo().progress().item(&path.to_string_lossy());
        let _done = Done(self.writer.repo());
        for attempt in 0..=CHANGED_RETRIES {
            let file = File::open(path).map_err(read_err)?;
            let before = file.metadata().map_err(read_err)?;
            let (content, size) = self.read_content(path, &file)?;
            let after = file.metadata().map_err(read_err)?;
            let stable = size == after.len()
                && before.len() == after.len()
                && before.mtime() == after.mtime()
                && before.mtime_nsec() == after.mtime_nsec()
                && before.ctime() == after.ctime()
                && before.ctime_nsec() == after.ctime_nsec();
            // Record what was actually read and the metadata that goes with it.
            node = base_node(std::mem::take(&mut node.name), NodeKind::File, &after);
            node.content = content;
            node.size = size;
            if stable {
                return Ok(node);
            }
            if attempt == CHANGED_RETRIES {
                node.flags |= FLAG_CHANGED_WHILE_READ;
                self.warnings.push(format!(
                    "{} changed while it was read ({} tries); the snapshot holds the {size} bytes read last",
                    path.display(),
                    CHANGED_RETRIES + 1
                ));
            }
        }
        Ok(node)
    }

    /// Chunk → hash → queue for sealing; returns the chunk list and byte count.
    fn read_content(&mut self, path: &Path, file: &File) -> Result<(Vec<Id>, u64)> {
        let (ids, size) = store_stream(self.writer, path, file, &mut self.buf)?;
        self.stats.bytes_read += size;
        Ok((ids, size))
    }
}

/// Chunk a stream (a file, standard input) and store its chunks through
/// `writer`; their ids and the byte count. `path` names the stream in a
/// read error; `buf` is the read buffer, kept by a caller that reads many.
pub(crate) fn store_stream(
    writer: &mut BlobWriter,
    path: &Path,
    input: impl std::io::Read,
    buf: &mut Vec<u8>,
) -> Result<(Vec<Id>, u64)> {
    let mut ids = Vec::new();
    let chunker = writer.repo().config.chunker;
    let size = chunker
        .for_each_chunk(input, buf, |chunk| -> Result<(), ReadError> {
            ids.push(writer.add(ObjectKind::Data, chunk).map_err(ReadError::Store)?);
            Ok(())
        })
        .map_err(|e| match e {
            ReadError::Io(source) => Error::SourceRead { path: path.to_path_buf(), source },
            ReadError::Store(e) => e,
        })?;
    Ok((ids, size))
}

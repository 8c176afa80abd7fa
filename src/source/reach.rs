//! Reachability: every blob a snapshot uses, found by one walk over its
//! trees, with each source node handed to its kind (`Source::reach`; a
//! SQLite database walks its manifest, dictionary, page lists and pages).
//! Each blob is reported with what it is to the snapshot and where. Prune
//! marks what it finds, check looks each one up, stats counts, restore and
//! `ls` use the entries it passes on the way.

use crate::error::{Error, FormatError, Result};
use crate::format::id::Id;
use crate::format::tree::{check_order, Node, NodeKind, Tree};
use crate::format::ObjectKind;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One reachable blob (or, with kind `Dictionary`, the dictionary object a
/// database's pages need).
pub struct Reached<'a> {
    pub id: &'a Id,
    pub kind: ObjectKind,
    /// The directory (for a tree blob), file or database it belongs to,
    /// relative to the snapshot's root.
    pub path: &'a Path,
    /// For a database page: its page number (1-based).
    pub page: Option<u64>,
}

/// What a walk tells its caller.
pub trait Visitor {
    /// A blob, before it is read: return false to skip what it contains
    /// (a subtree, manifest or page list already walked, or not wanted).
    fn blob(&mut self, r: Reached) -> Result<bool>;
    /// A directory entry, before what it stores: false skips that.
    fn node(&mut self, path: &Path, node: &Node) -> Result<bool> {
        let _ = (path, node);
        Ok(true)
    }
    /// A blob that could not be read or decoded: an error stops the walk,
    /// Ok goes on past it.
    fn failed(&mut self, id: &Id, path: &Path, e: Error) -> Result<()> {
        let _ = (id, path);
        Err(e)
    }
}

/// The walk in progress, as source kinds see it.
pub struct Walk<'a> {
    read: &'a mut dyn FnMut(&Id) -> Result<Vec<u8>>,
    visitor: &'a mut dyn Visitor,
}

impl Walk<'_> {
    /// Report a blob; true if the visitor wants what it contains.
    pub fn reached(&mut self, id: &Id, kind: ObjectKind, path: &Path, page: Option<u64>) -> Result<bool> {
        self.visitor.blob(Reached { id, kind, path, page })
    }

    /// A blob's plaintext (checked against its id); a failure goes to the
    /// visitor, and `None` means: go on without it.
    pub fn read(&mut self, id: &Id, path: &Path) -> Result<Option<Vec<u8>>> {
        match (self.read)(id) {
            Ok(b) => Ok(Some(b)),
            Err(e) => self.visitor.failed(id, path, e).map(|()| None),
        }
    }

    /// Report a blob that could not be decoded.
    pub fn failed(&mut self, id: &Id, path: &Path, e: Error) -> Result<()> {
        self.visitor.failed(id, path, e)
    }

    /// A directory stored as the tree blobs `ids`.
    fn dir(&mut self, ids: &[Id], path: &Path) -> Result<()> {
        let mut last: Option<Vec<u8>> = None;
        for id in ids {
            if !self.reached(id, ObjectKind::Tree, path, None)? {
                continue;
            }
            let Some(bytes) = self.read(id, path)? else { continue };
            let tree = Tree::decode(&bytes).map_err(|e| Error::format(format!("tree {id}"), e)).and_then(|t| {
                check_order(last.as_deref(), &t.nodes)
                    .map(|()| t)
                    .map_err(|e| Error::format(format!("tree {id}"), FormatError::Invalid(e)))
            });
            let tree = match tree {
                Ok(t) => t,
                Err(e) => {
                    self.failed(id, path, e)?;
                    continue;
                }
            };
            last = tree.nodes.last().map(|n| n.name.clone());
            for n in &tree.nodes {
                let p = path.join(std::ffi::OsStr::from_bytes(&n.name));
                if !self.visitor.node(&p, n)? {
                    continue;
                }
                match n.kind {
                    NodeKind::Dir => self.dir(&n.subtree, &p)?,
                    NodeKind::File => {
                        for c in &n.content {
                            self.reached(c, ObjectKind::Data, &p, None)?;
                        }
                    }
                    NodeKind::Symlink => {}
                    NodeKind::Source(_) => match super::of_node(n, &p) {
                        Ok(kind) => kind.reach(self, n, &p)?,
                        Err(e) => self.failed(id, &p, e)?,
                    },
                }
            }
        }
        Ok(())
    }
}

/// Walk the tree `root`, reading blobs through `read` (which returns a
/// blob's plaintext, checked against its id).
pub fn walk(read: &mut dyn FnMut(&Id) -> Result<Vec<u8>>, root: &[Id], visitor: &mut dyn Visitor) -> Result<()> {
    Walk { read, visitor }.dir(root, Path::new(""))
}

/// Walk what one source node stores (for its own kind's restore).
pub fn walk_node(
    read: &mut dyn FnMut(&Id) -> Result<Vec<u8>>,
    node: &Node,
    path: &Path,
    visitor: &mut dyn Visitor,
) -> Result<()> {
    let kind = super::of_node(node, path)?;
    kind.reach(&mut Walk { read, visitor }, node, path)
}

/// `path`, with the page number for a database page.
pub fn describe(path: &Path, page: Option<u64>) -> String {
    match page {
        Some(p) => format!("{} page {p}", path.display()),
        None => path.display().to_string(),
    }
}

/// A visitor from closures: what to do with each blob, each entry and
/// each failure.
pub struct Fns<B, N, F> {
    pub blob: B,
    pub node: N,
    pub failed: F,
}

impl<B, N, F> Visitor for Fns<B, N, F>
where
    B: FnMut(Reached) -> Result<bool>,
    N: FnMut(&Path, &Node) -> Result<bool>,
    F: FnMut(&Id, &Path, Error) -> Result<()>,
{
    fn blob(&mut self, r: Reached) -> Result<bool> {
        (self.blob)(r)
    }
    fn node(&mut self, path: &Path, node: &Node) -> Result<bool> {
        (self.node)(path, node)
    }
    fn failed(&mut self, id: &Id, path: &Path, e: Error) -> Result<()> {
        (self.failed)(id, path, e)
    }
}

/// The entries below `root`, in walk order (a directory before its
/// contents), read without looking inside files or source nodes.
pub fn entries(
    read: &mut dyn FnMut(&Id) -> Result<Vec<u8>>,
    root: &[Id],
    each: &mut dyn FnMut(&Path, &Node) -> Result<()>,
) -> Result<()> {
    let mut v = Fns {
        blob: |r: Reached| Ok(r.kind == ObjectKind::Tree),
        node: |p: &Path, n: &Node| {
            each(p, n)?;
            Ok(n.kind == NodeKind::Dir)
        },
        failed: |_: &Id, _: &Path, e: Error| Err(e),
    };
    walk(read, root, &mut v)
}

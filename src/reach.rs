//! Reachability: every blob a snapshot uses, found by one walk over its
//! trees, SQLite manifests and page lists, each blob reported with what it
//! is to the snapshot (a directory, a file's chunk, a database page) and
//! where. Prune marks what it finds, check looks each one up.

use crate::error::{Error, FormatError, Result};
use crate::format::ObjectKind;
use crate::id::Id;
use crate::sqlite::manifest::{decode_page_list, list_len, SqliteManifest};
use crate::tree::{check_order, NodeKind, Tree};
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

/// Walk the tree `root`. `visit` is called for every blob before it is
/// read; returning false skips what it contains (a subtree, manifest or
/// page list already walked). A blob that cannot be read or decoded goes to
/// `failed`, which stops the walk by returning an error or lets it go on
/// past that blob. `read` returns a blob's plaintext, checked against its id.
pub fn walk(
    read: &mut dyn FnMut(&Id) -> Result<Vec<u8>>,
    root: &[Id],
    visit: &mut dyn FnMut(Reached) -> Result<bool>,
    failed: &mut dyn FnMut(&Id, &Path, Error) -> Result<()>,
) -> Result<()> {
    let mut w = Walker { read, visit, failed };
    w.dir(root, Path::new(""))
}

struct Walker<'r, 'v, 'f> {
    read: &'r mut dyn FnMut(&Id) -> Result<Vec<u8>>,
    visit: &'v mut dyn FnMut(Reached) -> Result<bool>,
    failed: &'f mut dyn FnMut(&Id, &Path, Error) -> Result<()>,
}

impl Walker<'_, '_, '_> {
    fn reached(&mut self, id: &Id, kind: ObjectKind, path: &Path, page: Option<u64>) -> Result<bool> {
        (self.visit)(Reached { id, kind, path, page })
    }

    /// A directory stored as the tree blobs `ids`.
    fn dir(&mut self, ids: &[Id], path: &Path) -> Result<()> {
        let mut last: Option<Vec<u8>> = None;
        for id in ids {
            if !self.reached(id, ObjectKind::Tree, path, None)? {
                continue;
            }
            let tree = (self.read)(id).and_then(|b| Tree::decode(id, &b)).and_then(|t| {
                check_order(last.as_deref(), &t.nodes)
                    .map(|()| t)
                    .map_err(|e| Error::format(format!("tree {id}"), FormatError::Invalid(e)))
            });
            let tree = match tree {
                Ok(t) => t,
                Err(e) => {
                    (self.failed)(id, path, e)?;
                    continue;
                }
            };
            last = tree.nodes.last().map(|n| n.name.clone());
            for n in &tree.nodes {
                let p = path.join(std::ffi::OsStr::from_bytes(&n.name));
                match n.kind {
                    NodeKind::Dir => self.dir(&n.subtree, &p)?,
                    NodeKind::File => {
                        for c in &n.content {
                            self.reached(c, ObjectKind::Data, &p, None)?;
                        }
                    }
                    NodeKind::Symlink => {}
                    NodeKind::Sqlite => self.database(&n.content[0], &p)?,
                }
            }
        }
        Ok(())
    }

    /// A SQLite database: its manifest, page lists and pages.
    fn database(&mut self, manifest: &Id, path: &Path) -> Result<()> {
        if !self.reached(manifest, ObjectKind::SqliteManifest, path, None)? {
            return Ok(());
        }
        let m = match (self.read)(manifest).and_then(|b| SqliteManifest::decode(manifest, &b)) {
            Ok(m) => m,
            Err(e) => return (self.failed)(manifest, path, e),
        };
        // Not a blob: the `dictionaries/` object its pages were compressed with.
        if let Some(d) = &m.dictionary {
            self.reached(d, ObjectKind::Dictionary, path, None)?;
        }
        for (n, list) in m.page_lists.iter().enumerate() {
            if !self.reached(list, ObjectKind::PageList, path, None)? {
                continue;
            }
            let pages = match (self.read)(list).and_then(|b| decode_page_list(list, &b, list_len(&m, n))) {
                Ok(p) => p,
                Err(e) => {
                    (self.failed)(list, path, e)?;
                    continue;
                }
            };
            let first = (n * crate::format::PAGE_LIST_IDS) as u64 + 1;
            for (i, page) in pages.iter().enumerate() {
                self.reached(page, ObjectKind::Data, path, Some(first + i as u64))?;
            }
        }
        Ok(())
    }
}

/// `path`, with the page number for a database page.
pub fn describe(path: &Path, page: Option<u64>) -> String {
    match page {
        Some(p) => format!("{} page {p}", path.display()),
        None => path.display().to_string(),
    }
}

//! Tree objects: directory listings stored as content-addressed blobs.
//!
//! A directory's entries, sorted by name bytes, are cut into groups at
//! content-defined entry boundaries (a cut after an entry whose name hash has
//! its low bits zero, between `TREE_MIN_ENTRIES` and `TREE_MAX_ENTRIES` entries
//! per group). Each group is one tree blob, so a directory of a million files
//! never becomes one giant object, an unchanged subtree yields the same blob
//! ids (and costs nothing), and one new file in a huge directory changes one
//! group, not the whole listing.

use crate::error::{Error, FormatError, Result};
use crate::format::{TREE_CUT_MASK, TREE_MAX_ENTRIES, TREE_MIN_ENTRIES};
use crate::id::Id;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    /// A SQLite database captured page by page (format 3): `content` holds
    /// one id, its manifest blob (format-spec/sqlite.md); `size` is
    /// page size × page count.
    Sqlite,
}

/// Flag bit: the file changed while it was read; `content` holds what was read.
pub const FLAG_CHANGED_WHILE_READ: u8 = 1;

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// File name as raw bytes (names need not be UTF-8).
    pub name: Vec<u8>,
    pub kind: NodeKind,
    /// Full `st_mode` (file type and permission bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Bytes of content (for a file: the sum of its chunks' lengths).
    pub size: u64,
    /// Nanoseconds since the Unix epoch, UTC.
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
    pub dev: u64,
    /// File: ordered chunk ids.
    pub content: Vec<Id>,
    /// Directory: ids of the tree blobs holding its entries, in order.
    pub subtree: Vec<Id>,
    /// Symlink: target as raw bytes.
    pub target: Vec<u8>,
    pub flags: u8,
}

/// The plaintext of one tree blob.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("tree serialises")
    }
    pub fn decode(id: &Id, bytes: &[u8]) -> Result<Self> {
        bincode::deserialize(bytes).map_err(|e| Error::format(format!("tree {id}"), FormatError::Decode(e.to_string())))
    }
}

fn is_cut(name: &[u8]) -> bool {
    let h = blake3::hash(name);
    u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap()) & TREE_CUT_MASK == 0
}

/// Accepts a directory's entries in name order and emits tree blobs through
/// `store` as groups close.
#[derive(Default)]
pub struct TreeBuilder {
    nodes: Vec<Node>,
    ids: Vec<Id>,
}

impl TreeBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, node: Node, store: &mut dyn FnMut(Vec<u8>) -> Result<Id>) -> Result<()> {
        debug_assert!(self.nodes.last().is_none_or(|l| l.name < node.name), "entries out of order");
        let cut = is_cut(&node.name);
        self.nodes.push(node);
        let n = self.nodes.len();
        if n >= TREE_MAX_ENTRIES || (n >= TREE_MIN_ENTRIES && cut) {
            self.emit(store)?;
        }
        Ok(())
    }

    fn emit(&mut self, store: &mut dyn FnMut(Vec<u8>) -> Result<Id>) -> Result<()> {
        let tree = Tree { nodes: std::mem::take(&mut self.nodes) };
        self.ids.push(store(tree.encode())?);
        Ok(())
    }

    /// Close the last group; an empty directory has no tree blobs.
    pub fn finish(mut self, store: &mut dyn FnMut(Vec<u8>) -> Result<Id>) -> Result<Vec<Id>> {
        if !self.nodes.is_empty() {
            self.emit(store)?;
        }
        Ok(self.ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Node {
        Node {
            name: name.as_bytes().to_vec(),
            kind: NodeKind::File,
            mode: 0o100644,
            uid: 0,
            gid: 0,
            size: 0,
            mtime_ns: 0,
            ctime_ns: 0,
            inode: 0,
            dev: 0,
            content: vec![],
            subtree: vec![],
            target: vec![],
            flags: 0,
        }
    }

    fn build(names: &[String]) -> Vec<Id> {
        let mut b = TreeBuilder::new();
        let mut store = |bytes: Vec<u8>| Ok(Id::hash(&bytes));
        for n in names {
            b.push(node(n), &mut store).unwrap();
        }
        b.finish(&mut store).unwrap()
    }

    #[test]
    fn big_directory_is_cut_and_one_insert_changes_little() {
        let mut names: Vec<String> = (0..20_000).map(|i| format!("f{i:06}")).collect();
        let a = build(&names);
        assert!(a.len() > 10, "{} groups", a.len());
        names.insert(10_000, "f010000x".into());
        names.sort();
        let b = build(&names);
        let changed = b.iter().filter(|id| !a.contains(id)).count();
        assert!(changed <= 2, "{changed} groups changed");
    }
}

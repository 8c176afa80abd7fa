//! Tree objects: directory listings stored as content-addressed blobs.
//!
//! A directory's entries, sorted by name bytes, are cut into groups at
//! content-defined entry boundaries (a cut after an entry whose name hash has
//! its low bits zero, between `TREE_MIN_ENTRIES` and `TREE_MAX_ENTRIES` entries
//! per group). Each group is one tree blob, so a directory of a million files
//! never becomes one giant object, an unchanged subtree yields the same blob
//! ids (and costs nothing), and one new file in a huge directory changes one
//! group, not the whole listing.

use crate::format::decode::{self, Validate};
use crate::format::id::Id;
use crate::format::FormatError;
use crate::format::{TREE_CUT_MASK, TREE_MAX_ENTRIES, TREE_MIN_ENTRIES};
use serde::{Deserialize, Serialize};

/// What a tree entry is. On disk a `u32` (the bincode of the enum this
/// replaced: 0 file, 1 directory, 2 symlink, then one code per source kind,
/// 3 a SQLite database): a *source node* holds in `content` exactly one id,
/// its manifest blob, which the source kind with that code interprets
/// (the `source` module; format-spec/README.md "Node kinds").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "u32", into = "u32")]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    /// A node of a source kind, by its code (3 and above).
    Source(u32),
}

/// The first code of a source node kind.
pub const FIRST_SOURCE_NODE: u32 = 3;

impl From<u32> for NodeKind {
    fn from(code: u32) -> Self {
        match code {
            0 => NodeKind::File,
            1 => NodeKind::Dir,
            2 => NodeKind::Symlink,
            c => NodeKind::Source(c),
        }
    }
}

impl From<NodeKind> for u32 {
    fn from(k: NodeKind) -> u32 {
        match k {
            NodeKind::File => 0,
            NodeKind::Dir => 1,
            NodeKind::Symlink => 2,
            NodeKind::Source(c) => c,
        }
    }
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

impl Node {
    /// An entry with no metadata or contents yet (tests and tools build on it).
    pub fn new(name: &[u8], kind: NodeKind) -> Self {
        let mode = match kind {
            NodeKind::Dir => 0o40755,
            NodeKind::Symlink => 0o120777,
            _ => 0o100644,
        };
        Node {
            name: name.to_vec(),
            kind,
            mode,
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
}

/// The plaintext of one tree blob.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    pub fn encode(&self) -> Vec<u8> {
        decode::encode(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        decode::decode(bytes)
    }
}

/// A name a restore can join to its target: exactly one normal path
/// component (not empty, `.` or `..`, no `/`, no NUL byte).
pub fn check_name(name: &[u8]) -> Result<(), String> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
        return Err(format!("name {:?} is not a single path component", String::from_utf8_lossy(name)));
    }
    Ok(())
}

impl Validate for Node {
    fn validate(&self) -> Result<(), String> {
        check_name(&self.name)?;
        let fields = (self.content.is_empty(), self.subtree.is_empty(), self.target.is_empty());
        let ok = match self.kind {
            NodeKind::File => fields.1 && fields.2,
            NodeKind::Dir => fields.0 && fields.2,
            NodeKind::Symlink => fields.0 && fields.1 && !fields.2 && !self.target.contains(&0),
            NodeKind::Source(c) => c >= FIRST_SOURCE_NODE && self.content.len() == 1 && fields.1 && fields.2,
        };
        if !ok {
            return Err(format!(
                "{:?} entry {:?} has fields of another kind",
                self.kind,
                String::from_utf8_lossy(&self.name)
            ));
        }
        Ok(())
    }
}

impl Validate for Tree {
    /// Entries valid and in strictly increasing name order, so no name
    /// appears twice (the order is how trees are written).
    fn validate(&self) -> Result<(), String> {
        for n in &self.nodes {
            n.validate()?;
        }
        check_order(None, &self.nodes)
    }
}

/// `nodes` in strictly increasing name order, after `prev` (the last name
/// of the directory's previous tree blob, when it is split over several).
pub fn check_order(prev: Option<&[u8]>, nodes: &[Node]) -> Result<(), String> {
    let mut last = prev;
    for n in nodes {
        if last.is_some_and(|l| l >= n.name.as_slice()) {
            return Err(format!("entry {:?} is out of order or appears twice", String::from_utf8_lossy(&n.name)));
        }
        last = Some(&n.name);
    }
    Ok(())
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

    pub fn push<E>(&mut self, node: Node, store: &mut dyn FnMut(Vec<u8>) -> Result<Id, E>) -> Result<(), E> {
        debug_assert!(self.nodes.last().is_none_or(|l| l.name < node.name), "entries out of order");
        let cut = is_cut(&node.name);
        self.nodes.push(node);
        let n = self.nodes.len();
        if n >= TREE_MAX_ENTRIES || (n >= TREE_MIN_ENTRIES && cut) {
            self.emit(store)?;
        }
        Ok(())
    }

    fn emit<E>(&mut self, store: &mut dyn FnMut(Vec<u8>) -> Result<Id, E>) -> Result<(), E> {
        let tree = Tree { nodes: std::mem::take(&mut self.nodes) };
        self.ids.push(store(tree.encode())?);
        Ok(())
    }

    /// Close the last group; an empty directory has no tree blobs.
    pub fn finish<E>(mut self, store: &mut dyn FnMut(Vec<u8>) -> Result<Id, E>) -> Result<Vec<Id>, E> {
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
        Node::new(name.as_bytes(), NodeKind::File)
    }

    fn build(names: &[String]) -> Vec<Id> {
        let mut b = TreeBuilder::new();
        let mut store = |bytes: Vec<u8>| Ok::<_, ()>(Id::hash(&bytes));
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

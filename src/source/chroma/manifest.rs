//! The manifest of a Chroma directory snapshot (format-spec/chroma.md):
//! its SQLite databases (each a SQLite manifest of its own), its
//! directories and files with the chunking each file got, and the facts a
//! restore checks against (collections and counts, watermarks, vector
//! segments), all read in the one SQLite read transaction.

use crate::error::{Error, Result};
use crate::format::decode::{self, Validate};
use crate::format::id::Id;
use crate::format::PAGE_LIST_IDS;
use crate::source::idlist::IdLists;
use serde::{Deserialize, Serialize};

/// Fixed blocks of the fallback layout.
pub const BLOCK: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChromaManifest {
    /// SQLite databases (`chroma.sqlite3`).
    pub databases: Vec<Database>,
    /// Subdirectories (segment directories), parents before children.
    pub dirs: Vec<Dir>,
    /// Every other regular file.
    pub files: Vec<File>,
    pub collections: Vec<Collection>,
    /// `max_seq_id` rows: (segment id, sequence number).
    pub watermarks: Vec<(String, i64)>,
    /// Ids of the vector segments the `segments` table names.
    pub vector_segments: Vec<String>,
    /// Reads needed until nothing changed during one (1 = the first).
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Database {
    /// Its name in the directory.
    pub name: String,
    /// Its SQLite manifest blob (format-spec/sqlite.md).
    pub manifest: Id,
    pub mode: u32,
    pub mtime_ns: i64,
}

impl Database {
    /// The SQLite node it would be on its own, for the SQLite kind.
    pub fn node(&self) -> crate::format::tree::Node {
        let mut n = crate::format::tree::Node::new(self.name.as_bytes(), crate::source::sqlite::NODE_KIND);
        n.content = vec![self.manifest];
        n.mode = self.mode;
        n.mtime_ns = self.mtime_ns;
        n
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dir {
    pub path: String,
    pub mode: u32,
    pub mtime_ns: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    pub id: String,
    pub name: String,
    /// Rows of `embeddings` in its metadata segment.
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// Relative to the Chroma directory, `/`-separated.
    pub path: String,
    pub mode: u32,
    pub mtime_ns: i64,
    pub size: u64,
    pub layout: Layout,
}

/// How a file's bytes were chunked. Variants 1 and 2 are what format 4
/// wrote (plain lists); format 5 writes 3 and 4 (lists with patches,
/// `source::idlist`). Readers take either through `list_groups`, `hnsw`
/// and `blocks_why`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Layout {
    /// Content-defined chunks, in order (also one chunk for a small or
    /// rewritten-whole file such as `index_metadata.pickle`).
    Chunks(Vec<Id>),
    /// Format 4's `Hnsw`: the lists as plain page-list blobs.
    Hnsw4 { stride: u32, links_len: u32, elements: u64, group: u32, link_lists: Vec<Id>, vector_lists: Vec<Id> },
    /// Format 4's `Blocks`.
    Blocks4 { lists: Vec<Id>, why: String },
    /// `data_level0.bin` split per hnswlib record: link groups of `group`
    /// records, and each record's vector and label, in id lists.
    /// `elements` counts the file's records (at least the header's elements).
    Hnsw { stride: u32, links_len: u32, elements: u64, group: u32, links: IdLists, vectors: IdLists },
    /// Fixed 4 KiB blocks: `header.bin` did not parse or disagreed with the
    /// file sizes, for the reason given.
    Blocks { lists: IdLists, why: String },
}

impl File {
    /// The id lists of its layout (none for `Chunks`, which lists its ids
    /// inline): blocks; or link groups, then vectors.
    pub fn list_groups(&self) -> Vec<IdLists> {
        let blocks = self.size.div_ceil(BLOCK as u64);
        match &self.layout {
            Layout::Chunks(_) => vec![],
            Layout::Blocks4 { lists, .. } => vec![IdLists::full(blocks, lists.clone())],
            Layout::Hnsw4 { elements, group, link_lists, vector_lists, .. } => vec![
                IdLists::full(elements.div_ceil(*group as u64), link_lists.clone()),
                IdLists::full(*elements, vector_lists.clone()),
            ],
            Layout::Blocks { lists, .. } => vec![lists.clone()],
            Layout::Hnsw { links, vectors, .. } => vec![links.clone(), vectors.clone()],
        }
    }
}

/// The record shape of an HNSW layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub stride: u32,
    pub links_len: u32,
    pub elements: u64,
    pub group: u32,
}

impl Layout {
    /// The chunking's name, for `ls` and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::Chunks(ids) if ids.len() <= 1 => "whole",
            Layout::Chunks(_) => "content-defined",
            Layout::Hnsw { .. } | Layout::Hnsw4 { .. } => "hnsw-records",
            Layout::Blocks { .. } | Layout::Blocks4 { .. } => "4k-blocks",
        }
    }

    /// The record shape, for an HNSW layout.
    pub fn hnsw(&self) -> Option<Shape> {
        match *self {
            Layout::Hnsw { stride, links_len, elements, group, .. }
            | Layout::Hnsw4 { stride, links_len, elements, group, .. } => {
                Some(Shape { stride, links_len, elements, group })
            }
            _ => None,
        }
    }

    /// Why the file was stored as 4 KiB blocks, for a block layout.
    pub fn blocks_why(&self) -> Option<&str> {
        match self {
            Layout::Blocks { why, .. } | Layout::Blocks4 { why, .. } => Some(why),
            _ => None,
        }
    }

    /// This layout as format `version` stores it: format 4 has no patches
    /// (a writer into a format-4 repository never makes any).
    pub fn for_version(self, version: u32) -> Layout {
        if version >= crate::format::FRAMES_VERSION {
            return self;
        }
        match self {
            Layout::Hnsw { stride, links_len, elements, group, links, vectors } => {
                debug_assert!(links.patches.is_empty() && vectors.patches.is_empty());
                Layout::Hnsw4 {
                    stride,
                    links_len,
                    elements,
                    group,
                    link_lists: links.lists,
                    vector_lists: vectors.lists,
                }
            }
            Layout::Blocks { lists, why } => Layout::Blocks4 { lists: lists.lists, why },
            l => l,
        }
    }
}

impl ChromaManifest {
    pub fn encode(&self) -> Vec<u8> {
        decode::encode(self)
    }
    pub fn decode(id: &Id, bytes: &[u8]) -> Result<Self> {
        decode::decode(bytes).map_err(|e| Error::format(format!("chroma manifest {id}"), e))
    }
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Page lists needed for `n` ids.
pub fn lists_for(n: u64) -> u64 {
    n.div_ceil(PAGE_LIST_IDS as u64)
}

/// A relative path that stays inside the directory: no empty, `.` or `..`
/// component, not absolute, no NUL.
fn safe_path(p: &str) -> bool {
    !p.is_empty() && !p.contains('\0') && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

impl Validate for ChromaManifest {
    /// Paths stay inside the directory and are unique, each directory's
    /// parent comes before it, and each layout holds exactly the lists its
    /// sizes need.
    fn validate(&self) -> std::result::Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        let names = self.databases.iter().map(|d| &d.name).chain(self.dirs.iter().map(|d| &d.path));
        for p in names.chain(self.files.iter().map(|f| &f.path)) {
            if !safe_path(p) {
                return Err(format!("path {p:?} leaves the directory"));
            }
            if !seen.insert(p.as_str()) {
                return Err(format!("path {p:?} is listed twice"));
            }
        }
        let mut dirs = std::collections::HashSet::new();
        for d in &self.dirs {
            if let Some((parent, _)) = d.path.rsplit_once('/') {
                if !dirs.contains(parent) {
                    return Err(format!("directory {:?} comes before its parent", d.path));
                }
            }
            dirs.insert(d.path.as_str());
        }
        for f in &self.files {
            if let Some((parent, _)) = f.path.rsplit_once('/') {
                if !dirs.contains(parent) {
                    return Err(format!("file {:?} is in no listed directory", f.path));
                }
            }
            check_layout(f)?;
        }
        Ok(())
    }
}

fn check_layout(f: &File) -> std::result::Result<(), String> {
    let bad = |why: String| Err(format!("{}: {why}", f.path));
    let want: Vec<u64> = if let Some(Shape { stride, links_len, elements, group }) = f.layout.hnsw() {
        if group == 0 || links_len == 0 || links_len >= stride {
            return bad(format!("record of {stride} bytes with {links_len} bytes of links in groups of {group}"));
        }
        if elements.checked_mul(stride as u64) != Some(f.size) {
            return bad(format!("{elements} records of {stride} bytes are not {} bytes", f.size));
        }
        vec![elements.div_ceil(group as u64), elements]
    } else if f.layout.blocks_why().is_some() {
        vec![f.size.div_ceil(BLOCK as u64)]
    } else {
        vec![]
    };
    let groups = f.list_groups();
    for (l, want) in groups.iter().zip(&want) {
        if l.count != *want {
            return bad(format!("{want} ids needed, the lists hold {}", l.count));
        }
        l.validate().map_err(|e| format!("{}: {e}", f.path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(files: Vec<File>, dirs: Vec<Dir>) -> ChromaManifest {
        ChromaManifest {
            databases: vec![Database { name: "chroma.sqlite3".into(), manifest: Id::hash(b"m"), mode: 0, mtime_ns: 0 }],
            dirs,
            files,
            collections: vec![],
            watermarks: vec![],
            vector_segments: vec![],
            attempts: 1,
        }
    }
    fn file(path: &str, size: u64, layout: Layout) -> File {
        File { path: path.into(), mode: 0o644, mtime_ns: 0, size, layout }
    }
    fn dir(path: &str) -> Dir {
        Dir { path: path.into(), mode: 0o755, mtime_ns: 0 }
    }

    #[test]
    fn validation() {
        let ok = m(vec![file("s/a", 3, Layout::Chunks(vec![]))], vec![dir("s")]);
        assert!(ok.validate().is_ok());
        for bad in ["../x", "/etc/x", "s/../../x", "", "s//a", "chroma.sqlite3"] {
            let v = m(vec![file(bad, 1, Layout::Chunks(vec![]))], vec![dir("s")]);
            assert!(v.validate().is_err(), "{bad:?} accepted");
        }
        assert!(m(vec![file("t/a", 1, Layout::Chunks(vec![]))], vec![dir("s")]).validate().is_err());
        assert!(m(vec![], vec![dir("s/t"), dir("s")]).validate().is_err());
        let hnsw = |elements, lists| Layout::Hnsw4 {
            stride: 20,
            links_len: 8,
            elements,
            group: 8,
            link_lists: vec![Id::hash(b"l"); lists],
            vector_lists: vec![Id::hash(b"v"); lists],
        };
        assert!(m(vec![file("s/d", 200, hnsw(10, 1))], vec![dir("s")]).validate().is_ok());
        assert!(m(vec![file("s/d", 201, hnsw(10, 1))], vec![dir("s")]).validate().is_err());
        assert!(m(vec![file("s/d", 200, hnsw(10, 2))], vec![dir("s")]).validate().is_err());
        let blocks = |n| Layout::Blocks4 { lists: vec![Id::hash(b"b"); n], why: String::new() };
        assert!(m(vec![file("s/d", 5000, blocks(1))], vec![dir("s")]).validate().is_ok());
        assert!(m(vec![file("s/d", 5000, blocks(0))], vec![dir("s")]).validate().is_err());
        // Format 5: the lists' own counts must match the file.
        let lists = |count| IdLists::full(count, vec![Id::hash(b"b")]);
        let b5 = |count| Layout::Blocks { lists: lists(count), why: String::new() };
        assert!(m(vec![file("s/d", 5000, b5(2))], vec![dir("s")]).validate().is_ok());
        assert!(m(vec![file("s/d", 5000, b5(3))], vec![dir("s")]).validate().is_err());
        let h5 = |groups| Layout::Hnsw {
            stride: 20,
            links_len: 8,
            elements: 10,
            group: 8,
            links: lists(groups),
            vectors: lists(10),
        };
        assert!(m(vec![file("s/d", 200, h5(2))], vec![dir("s")]).validate().is_ok());
        assert!(m(vec![file("s/d", 200, h5(1))], vec![dir("s")]).validate().is_err());
    }
}

//! Files, directories and symlinks: the source kind every snapshot's trees
//! are made of. Capture walks a path (`archive`); restore writes files
//! planned by pack (`restore`).

pub mod archive;
pub mod exclude;
pub mod restore;

use crate::error::Result;
use crate::format::snapshot::SourceKind;
use crate::format::tree::{Node, NodeKind};
use crate::pipeline::write::BlobWriter;
use crate::source::{CaptureOptions, Captured};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The files kind (a plain `PATH`).
pub struct Files;

impl crate::source::Source for Files {
    fn name(&self) -> &'static str {
        "files"
    }
    fn kind(&self) -> SourceKind {
        SourceKind::FILES
    }
    fn node_kind(&self) -> Option<NodeKind> {
        None
    }
    fn capture(
        &self,
        w: &mut BlobWriter,
        location: &str,
        name: Vec<u8>,
        parent: Option<&Node>,
        o: &CaptureOptions,
    ) -> Result<Captured> {
        let mut a = archive::FileArchiver {
            writer: w,
            force: o.force,
            stats: Default::default(),
            warnings: vec![],
            buf: vec![],
            exclude: &o.exclude,
        };
        let node = a.archive(Path::new(location), name, parent)?;
        Ok(Captured { node, stats: a.stats, report: None, warnings: a.warnings })
    }
}

fn ns(sec: i64, nsec: i64) -> i64 {
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// A node with the metadata of `m` and no contents yet.
pub(crate) fn base_node(name: Vec<u8>, kind: NodeKind, m: &Metadata) -> Node {
    Node {
        name,
        kind,
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        size: 0,
        mtime_ns: ns(m.mtime(), m.mtime_nsec()),
        ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        inode: m.ino(),
        dev: m.dev(),
        content: vec![],
        subtree: vec![],
        target: vec![],
        flags: 0,
    }
}

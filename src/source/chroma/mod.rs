//! ChromaDB persist directories as a source (`chroma:DIR`): a consistent
//! capture of a live directory (`capture`), HNSW-aware chunking of the
//! vector segments (`hnsw`), the manifest that records both (`manifest`),
//! and a restore verified before it replaces anything (`restore`).
//! format-spec/chroma.md describes the objects, the protocol and why it is
//! consistent.

pub mod capture;
pub mod hnsw;
pub mod manifest;
pub mod restore;
pub mod segments;

pub use capture::CaptureOptions;
pub use restore::RestoreOptions;

use crate::error::Result;
use crate::format::snapshot::SourceKind;
use crate::format::tree::{Node, NodeKind};
use crate::format::ObjectKind;
use crate::pipeline::write::BlobWriter;
use crate::repo::Repository;
use crate::source::reach::Walk;
use crate::source::{CaptureStats, Captured, Report, Source};
use crate::sys::human;
use manifest::{ChromaManifest, Layout};
use std::path::{Path, PathBuf};

/// Chroma directories are recorded in snapshots under this code…
pub const KIND: SourceKind = SourceKind(2);
/// …and stored as nodes of this kind (format 4; format-spec/chroma.md).
pub const NODE_KIND: NodeKind = NodeKind::Source(4);
/// The first repository format that may hold Chroma nodes.
pub const SINCE_FORMAT: u32 = 4;

/// The Chroma source kind (`chroma:DIR`).
pub struct Chroma;

impl Source for Chroma {
    fn name(&self) -> &'static str {
        "chroma"
    }
    fn kind(&self) -> SourceKind {
        KIND
    }
    fn node_kind(&self) -> Option<NodeKind> {
        Some(NODE_KIND)
    }
    fn report_group(&self) -> Option<&'static str> {
        Some("vector_stores")
    }

    fn capture(
        &self,
        w: &mut BlobWriter,
        location: &str,
        name: Vec<u8>,
        parent: Option<&Node>,
        o: &crate::source::CaptureOptions,
    ) -> Result<Captured> {
        let version = w.repo().config.version;
        if version < SINCE_FORMAT {
            return Err(ChromaError::OldFormat(version).into());
        }
        let dir = Path::new(location);
        let parent = parent.filter(|p| p.kind == NODE_KIND).and_then(|p| restore::load_manifest(w.repo(), p).ok());
        let mut warnings = Vec::new();
        let c = capture::capture(w, dir, parent.as_ref(), o, &mut warnings)?;
        let (m, db_bytes) = (&c.manifest, c.db_bytes);
        let id = w.add(ObjectKind::ChromaManifest, &m.encode())?;
        let meta = std::fs::metadata(dir).map_err(|e| crate::Error::SourceRead { path: dir.into(), source: e })?;
        let mut node = crate::source::files::base_node(name, NODE_KIND, &meta);
        node.size = m.size() + db_bytes;
        node.content = vec![id];
        let stats = CaptureStats { bytes_read: node.size, bytes_logical: node.size, ..Default::default() };
        let items: u64 = m.collections.iter().map(|c| c.count).sum();
        let json = serde_json::json!({
            "path": location, "bytes": node.size, "files": m.files.len(), "collections": m.collections.len(),
            "items": items, "attempts": m.attempts, "watermarks": m.watermarks, "hold_ms": c.hold_ms,
            "layouts": m.files.iter().map(|f| serde_json::json!({"path": f.path, "chunking": f.layout.name()})).collect::<Vec<_>>(),
        });
        let text = format!(
            "chroma {location}: {} collections, {items} items, {} in {} files; consistent on attempt {}, writers held {} ms",
            m.collections.len(),
            human(node.size),
            m.files.len() + m.databases.len(),
            m.attempts,
            c.hold_ms
        );
        let report = Some(Report { group: "vector_stores", json, text });
        Ok(Captured { node: Some(node), stats, report, warnings })
    }

    /// The manifest, its databases (through the SQLite kind), each file's
    /// lists and chunks.
    fn reach(&self, walk: &mut Walk, node: &Node, path: &Path) -> Result<()> {
        let id = &node.content[0];
        if !walk.reached(id, ObjectKind::ChromaManifest, path, None)? {
            return Ok(());
        }
        let Some(bytes) = walk.read(id, path)? else { return Ok(()) };
        let m = match ChromaManifest::decode(id, &bytes) {
            Ok(m) => m,
            Err(e) => return walk.failed(id, path, e),
        };
        for db in &m.databases {
            crate::source::sqlite::Sqlite.reach(walk, &db.node(), &path.join(&db.name))?;
        }
        for f in &m.files {
            let fpath = path.join(&f.path);
            if let Layout::Chunks(ids) = &f.layout {
                for c in ids {
                    walk.reached(c, ObjectKind::Data, &fpath, None)?;
                }
            }
            for l in f.list_groups() {
                crate::source::idlist::reach(walk, &l, &fpath, false)?;
            }
        }
        Ok(())
    }

    fn parts(&self, repo: &Repository, node: &Node) -> Result<Vec<crate::source::Part>> {
        let m = restore::load_manifest(repo, node)?;
        let mut parts = Vec::new();
        for db in &m.databases {
            parts.extend(crate::source::sqlite::Sqlite.parts(repo, &db.node())?);
        }
        for f in &m.files {
            let planned = restore::plan(repo, f)?;
            let ids: Vec<Id> = planned.iter().map(|p| p.0).collect();
            let stored = crate::source::stored_bytes(repo, &ids);
            let (unit, units) = restore::units(f, planned);
            parts.push(crate::source::Part {
                path: f.path.clone(),
                size: f.size,
                stored,
                chunking: f.layout.name().into(),
                units,
                unit,
            });
        }
        Ok(parts)
    }

    fn restores_to_dir(&self) -> bool {
        true
    }

    fn restore(
        &self,
        repo: &Repository,
        node: &Node,
        target: &Path,
        o: &crate::source::RestoreOptions,
    ) -> Result<Report> {
        let r = restore::restore_dir(repo, node, target, o.overwrite, &o.chroma)?;
        let mut text = format!(
            "restored chroma directory {} ({} files, {}, {} collections); verified: {}",
            r.path.display(),
            r.files,
            human(r.bytes),
            r.collections,
            r.checks.join(", ")
        );
        if let Some(rb) = &r.rollback {
            text.push_str(&format!("\nthe replaced directory was kept at {}", rb.display()));
        }
        let json = serde_json::to_value(&r).expect("a report serialises");
        Ok(Report { group: "vector_stores", json, text })
    }
}

use crate::format::id::Id;

/// Errors of the Chroma source and restore, each naming the path.
#[derive(Debug, thiserror::Error)]
pub enum ChromaError {
    #[error("{} is not a Chroma persist directory (no chroma.sqlite3 with Chroma's tables): check the path; nothing was written", .0.display())]
    NotChroma(PathBuf),
    #[error("{} is neither a file nor a directory, which a Chroma directory does not hold: remove it; nothing was written", .0.display())]
    Unexpected(PathBuf),
    #[error("{} lacks {what}, which chroma.sqlite3 needs: the directory is incomplete; nothing was written", dir.display())]
    SegmentMissing { dir: PathBuf, what: String },
    #[error("{} is truncated ({why}); Chroma could not load it either: restore it first; nothing was written", path.display())]
    Truncated { path: PathBuf, why: String },
    #[error("{} kept changing during {attempts} reads (Chroma persisted while it was read); no snapshot was written: retry when writes pause, or allow more attempts", path.display())]
    KeptChanging { path: PathBuf, attempts: u32 },
    #[error("SQLite error on {}: {source}", path.display())]
    Sql { path: PathBuf, source: rusqlite::Error },
    #[error("restored Chroma data {} failed verification: {why}; the target was not changed", path.display())]
    VerifyFailed { path: PathBuf, why: String },
    #[error("{} already exists: allow overwriting to replace it (the new directory is verified first, then swapped in atomically) or restore to a new path", .0.display())]
    TargetExists(PathBuf),
    #[error("{} exists and is not a directory: give a directory for the Chroma data", .0.display())]
    TargetNotDir(PathBuf),
    #[error("cannot write {}: {source}; the target was not changed", path.display())]
    TargetWrite { path: PathBuf, source: std::io::Error },
    #[error("this repository has format {0}, which predates Chroma sources (format 4): initialise a new repository for them")]
    OldFormat(u32),
}

crate::error::source_error!(ChromaError, VerifyFailed);

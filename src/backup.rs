//! The backup pipeline, as named stages:
//! source (walk, stat, parent lookup; or a SQLite read transaction) →
//! chunker (FastCDC; one chunk per page for SQLite) → hasher →
//! compressor/sealer → packer → backend, then the commit: index, then snapshot.
//!
//! Write order follows from one invariant: *every object a committed object
//! names is already durable.* So packs are stored (and fsynced) first, then
//! the index naming them, then the snapshot naming the trees — the snapshot
//! is the commit point. A crash before it leaves only unreferenced packs or
//! an index of unreferenced packs, which cost space until `prune` and never
//! break a snapshot. Every new object has a fresh unique name, so concurrent
//! backups never rewrite each other's objects and need no lock.

use crate::error::{Error, Result};
use crate::id::{random_bytes, Id};
use crate::index::IndexPack;
use crate::repo::Repository;
use crate::snapshot::{Snapshot, Source, SourceKind, Summary};
use crate::source::files::{FileArchiver, FileStats};
use crate::sqlite::capture::{capture, CaptureOptions};
use crate::sqlite::manifest::SqliteManifest;
use crate::store::{BlobWriter, WriteStats};
use crate::tree::{Node, NodeKind, TreeBuilder};
use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Files and directories; `sqlite:PATH` for a SQLite database.
    pub paths: Vec<PathBuf>,
    pub sqlite: CaptureOptions,
    pub tags: Vec<String>,
    /// Snapshot time; now when absent.
    pub time: Option<jiff::Timestamp>,
    /// Host name recorded; this machine's when absent.
    pub host: Option<String>,
    /// Re-read every file, ignoring the parent snapshot.
    pub force: bool,
}

#[derive(Debug, Clone)]
pub struct BackupResult {
    pub id: Id,
    pub snapshot: Snapshot,
    pub files: FileStats,
    pub written: WriteStats,
    /// Every SQLite database captured, by path.
    pub databases: Vec<(String, SqliteManifest)>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

/// One source path, resolved.
struct SourcePath {
    kind: SourceKind,
    abs: PathBuf,
    name: Vec<u8>,
}

/// Take a snapshot of `opts.paths` into `repo`.
pub fn backup(repo: &Repository, opts: &BackupOptions) -> Result<BackupResult> {
    let start = Instant::now();
    crate::failpoint::pause("backup-start");
    // Source: resolve the paths and find the snapshot they were last taken in.
    let sources = resolve_sources(&opts.paths)?;
    let host = opts.host.clone().unwrap_or_else(hostname);
    let source_list: Vec<Source> =
        sources.iter().map(|s| Source { kind: s.kind, path: s.abs.display().to_string() }).collect();
    let parent = find_parent(repo, &host, &source_list)?;

    // Chunker → hasher → sealer → packer → backend.
    let mut writer = BlobWriter::new(repo);
    let archived = archive_sources(repo, &mut writer, &sources, parent.as_ref().map(|p| &p.1), opts);
    let Archived { tree, files, databases, warnings } = match archived {
        Ok(v) => v,
        Err(e) => return Err(writer.abort().unwrap_or(e)),
    };
    let reused = writer.reused_packs().clone();
    let (packs, written) = writer.finish()?;

    // Commit: index naming the durable packs, then the snapshot.
    let mut nonce = [0u8; 16];
    random_bytes(&mut nonce);
    let snapshot = Snapshot {
        version: 1,
        time_ns: opts.time.unwrap_or_else(jiff::Timestamp::now).as_nanosecond() as i64,
        hostname: host,
        username: username(),
        tags: opts.tags.clone(),
        sources: source_list,
        tree,
        parent: parent.map(|p| p.0),
        summary: Summary {
            files: files.files_new + files.files_changed + files.files_unmodified,
            dirs: files.dirs,
            symlinks: files.symlinks,
            bytes: files.bytes_logical + databases.iter().map(|d| d.1.db_size()).sum::<u64>(),
        },
        nonce,
    };
    let id = commit(repo, packs, &reused, &snapshot)?;
    Ok(BackupResult { id, snapshot, files, written, databases, warnings, seconds: start.elapsed().as_secs_f64() })
}

/// Write the index for `packs` (already durable), then the snapshot. On
/// failure, delete what this backup wrote, leaving the repository as it was.
fn commit(repo: &Repository, packs: Vec<IndexPack>, reused: &HashSet<Id>, snapshot: &Snapshot) -> Result<Id> {
    let undo_packs = |packs: &[IndexPack]| crate::store::remove_packs(&**repo.backend(), packs);
    if let Err(e) = check_reused(repo, reused) {
        undo_packs(&packs);
        return Err(e);
    }
    crate::failpoint::hit("before-index");
    let index_keys = match repo.save_index(packs.clone()) {
        Ok(keys) => keys,
        Err(e) => {
            undo_packs(&packs);
            return Err(e);
        }
    };
    crate::failpoint::hit("before-snapshot");
    repo.save_snapshot(snapshot).inspect_err(|_| {
        for k in &index_keys {
            let _ = repo.backend().delete(k);
        }
        undo_packs(&packs);
    })
}

/// A prune may have marked packs this backup deduplicated against after it
/// loaded the index. A marked pack that still exists is safe to reference:
/// the snapshot about to be written makes it referenced, and the prune that
/// would delete it walks all snapshots first. One already deleted means the
/// backup outlived prune's grace period: fail rather than commit a snapshot
/// with missing data.
fn check_reused(repo: &Repository, reused: &HashSet<Id>) -> Result<()> {
    crate::failpoint::pause("backup-before-commit");
    let (_, marked) = crate::marks::load_marks(repo)?;
    for p in reused.iter().filter(|p| marked.contains_key(*p)) {
        if let Err(crate::backend::BackendError::NotFound { .. }) =
            repo.backend().get_range(&crate::pack::pack_key(p), 0, 8)
        {
            return Err(Error::InvalidArgument(format!(
                "pack {p}, which this backup reuses, was deleted by a prune meanwhile (the backup ran longer than prune's --grace); nothing was committed: run the backup again"
            )));
        }
    }
    Ok(())
}

fn username() -> String {
    // SAFETY: getuid has no arguments and cannot fail.
    std::env::var("USER").unwrap_or_else(|_| unsafe { libc::getuid() }.to_string())
}

/// Source stage: make paths absolute, check they exist, name them by base name.
fn resolve_sources(paths: &[PathBuf]) -> Result<Vec<SourcePath>> {
    if paths.is_empty() {
        return Err(Error::InvalidArgument("nothing to back up: give at least one PATH".into()));
    }
    let mut out: Vec<SourcePath> = Vec::new();
    for p in paths {
        let (kind, p) = match p.as_os_str().as_bytes().strip_prefix(b"sqlite:") {
            Some(rest) => (SourceKind::Sqlite, PathBuf::from(std::ffi::OsStr::from_bytes(rest))),
            None => (SourceKind::Files, p.clone()),
        };
        let p = &p;
        let abs = std::path::absolute(p).map_err(|e| Error::SourceRead { path: p.clone(), source: e })?;
        std::fs::symlink_metadata(&abs).map_err(|e| Error::SourceRead { path: p.clone(), source: e })?;
        let name = abs.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_else(|| b"root".to_vec());
        if out.iter().any(|s| s.name == name) {
            return Err(Error::InvalidArgument(format!(
                "two sources are both named {:?}: back them up separately or from a common parent directory",
                String::from_utf8_lossy(&name)
            )));
        }
        out.push(SourcePath { kind, abs, name });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The newest snapshot of the same host and sources, whose file metadata
/// lets unchanged files skip reading.
fn find_parent(repo: &Repository, host: &str, sources: &[Source]) -> Result<Option<(Id, Snapshot)>> {
    let mut key: Vec<_> = sources.iter().map(|s| (s.kind, s.path.clone())).collect();
    key.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(repo.list_snapshots()?.into_iter().rev().find(|(_, s)| s.hostname == host && s.source_key() == key))
}

struct Archived {
    tree: Vec<Id>,
    files: FileStats,
    databases: Vec<(String, SqliteManifest)>,
    warnings: Vec<String>,
}

/// Chunker → hasher → sealer → packer for every source; returns the root tree.
fn archive_sources(
    repo: &Repository,
    writer: &mut BlobWriter,
    sources: &[SourcePath],
    parent: Option<&Snapshot>,
    opts: &BackupOptions,
) -> Result<Archived> {
    // A parent that cannot be read (damaged, or its data pruned meanwhile)
    // only means every file is read again.
    let mut db_warnings = Vec::new();
    let parent_root: HashMap<Vec<u8>, Node> = match parent.map(|p| repo.load_tree(&p.tree)) {
        Some(Ok(nodes)) => nodes.into_iter().map(|n| (n.name.clone(), n)).collect(),
        Some(Err(e)) => {
            db_warnings.push(format!("the parent snapshot is unreadable ({e}); every file is read again"));
            HashMap::new()
        }
        None => HashMap::new(),
    };
    let mut nodes = Vec::new();
    let mut databases = Vec::new();
    let force = opts.force;
    let mut archiver = FileArchiver { repo, writer, force, stats: FileStats::default(), warnings: vec![], buf: vec![] };
    for s in sources {
        if s.kind == SourceKind::Sqlite {
            let prev = parent_root.get(&s.name);
            let c = capture(repo, archiver.writer, &s.abs, s.name.clone(), prev, &opts.sqlite)?;
            databases.push((s.abs.display().to_string(), c.manifest));
            db_warnings.extend(c.warnings);
            nodes.push(c.node);
        } else if let Some(node) = archiver.archive(&s.abs, s.name.clone(), parent_root.get(&s.name))? {
            nodes.push(node);
        }
    }
    let (stats, mut warnings) = (archiver.stats, archiver.warnings);
    warnings.extend(db_warnings);
    let mut root = TreeBuilder::new();
    let mut store = |bytes: Vec<u8>| writer.add(repo.index(), crate::format::ObjectKind::Tree, &bytes);
    for n in nodes {
        debug_assert!(n.kind != NodeKind::Dir || n.name != b"");
        root.push(n, &mut store)?;
    }
    Ok(Archived { tree: root.finish(&mut store)?, files: stats, databases, warnings })
}

/// This machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

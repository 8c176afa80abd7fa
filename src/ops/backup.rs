//! The backup pipeline, as named stages:
//! sources (each captured by its kind: a file walk, a SQLite read
//! transaction) → chunker → hasher → compressor/sealer → packer → backend,
//! then the commit: index, then snapshot.
//!
//! Write order follows from one invariant: *every object a committed object
//! names is already durable.* So packs and dictionaries are stored (and
//! fsynced) first, then the index naming the packs, then the snapshot naming
//! the trees — the snapshot is the commit point. A crash before it leaves
//! only unreferenced packs, dictionaries or an index of unreferenced packs,
//! which cost space until `prune` and never break a snapshot. Every new
//! object has a fresh unique name, so concurrent backups never rewrite each
//! other's objects and need no lock.

use crate::error::{Error, Result};
use crate::format::id::{random_bytes, Id};
use crate::format::snapshot::{Component, Snapshot, Source, Stack, Summary, STACK_VERSION};
use crate::format::tree::{Node, NodeKind, TreeBuilder};
use crate::format::ObjectKind;
use crate::pipeline::write::{undo, BlobWriter, Dedup, WriteStats, Written};
use crate::progress::{Started, Totals};
use crate::repo::Repository;
use crate::source::{CaptureOptions, CaptureStats, Report, SourceSpec};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    pub sources: Vec<SourceSpec>,
    pub capture: CaptureOptions,
    pub tags: Vec<String>,
    /// Snapshot time; now when absent.
    pub time: Option<jiff::Timestamp>,
    /// Host name recorded; this machine's when absent.
    pub host: Option<String>,
    /// A stack snapshot: each source a named component, captured in the
    /// order given, with its own options.
    pub stack: Option<StackOptions>,
    /// The snapshot whose unchanged files are not read again; when absent,
    /// the newest of the same host and sources.
    pub parent: Option<Id>,
}

/// The stack of a stack snapshot.
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// The series (the stack file's name).
    pub name: String,
    /// One per source, in `sources` order: its name and its capture options
    /// (which replace `BackupOptions::capture` for it).
    pub components: Vec<(String, CaptureOptions)>,
}

/// Told around each source's capture (a stack's hooks); an error fails the
/// backup, which then commits nothing.
pub trait Observer {
    /// Before source `index` is captured.
    fn before(&mut self, index: usize) -> Result<()> {
        let _ = index;
        Ok(())
    }
    /// After it, whether or not the capture succeeded (`ok`).
    fn after(&mut self, index: usize, ok: bool) -> Result<()> {
        let _ = (index, ok);
        Ok(())
    }
}

/// No observer.
pub struct Quiet;
impl Observer for Quiet {}

#[derive(Debug, Clone)]
pub struct BackupResult {
    pub id: Id,
    pub snapshot: Snapshot,
    pub stats: CaptureStats,
    pub written: WriteStats,
    /// What each source kind reported (a database: pages, mode, checks).
    pub reports: Vec<Report>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

/// One source, resolved: its spec, the location recorded, its node's name,
/// its options.
struct Resolved<'s> {
    spec: &'s SourceSpec,
    location: String,
    name: Vec<u8>,
    opts: &'s CaptureOptions,
    /// A stack's component: errors name it.
    component: bool,
}

/// Take a snapshot of `opts.sources` into `repo`.
pub fn backup(repo: &Repository, opts: &BackupOptions) -> Result<BackupResult> {
    backup_observed(repo, opts, &mut Quiet)
}

/// `backup`, telling `observer` around each source's capture.
pub fn backup_observed(repo: &Repository, opts: &BackupOptions, observer: &mut dyn Observer) -> Result<BackupResult> {
    let start = Instant::now();
    crate::failpoint::pause("backup-start");
    let sources = resolve(opts)?;
    let host = opts.host.clone().unwrap_or_else(crate::sys::hostname);
    let source_list: Vec<Source> =
        sources.iter().map(|s| Source { kind: s.spec.source.kind(), path: s.location.clone() }).collect();
    let series = match &opts.stack {
        Some(st) => vec![format!("stack:{}", st.name)],
        None => Snapshot::series_of(&source_list),
    };
    let parent = match opts.parent {
        Some(id) => Some((id, repo.load_snapshot(&id)?)),
        None => repo.list_snapshots()?.into_iter().rev().find(|(_, s)| s.hostname == host && s.series() == series),
    };

    // The parent's size is the best guess of this one's (none for a first backup).
    let summary = parent.as_ref().map(|p| &p.1.summary);
    let items =
        summary.map(|s| s.files.max(1) + sources.iter().filter(|s| s.spec.source.node_kind().is_some()).count() as u64);
    let shown = Started::new(repo.progress(), "backup", Totals { bytes: summary.map(|s| s.bytes), items });
    let mut writer = BlobWriter::new(repo, Dedup::Index);
    let captured = capture(&mut writer, &sources, parent.as_ref().map(|p| &p.1), observer);
    drop(shown);
    let Captured { tree, stats, reports, warnings, components } = match captured {
        Ok(v) => v,
        Err(Error::Interrupted) => return Err(keep_partial(repo, writer.finish()?)),
        Err(e) => return Err(writer.abort().unwrap_or(e)),
    };
    let reused = (writer.reused_packs().clone(), writer.reused_dictionaries().clone());
    let written = writer.finish()?;
    // A signal after the last chunk still stops before the snapshot: the
    // user asked for no new snapshot, and everything stored is kept.
    if repo.cancelled() {
        return Err(keep_partial(repo, written));
    }

    let mut nonce = [0u8; 16];
    random_bytes(&mut nonce);
    let snapshot = Snapshot {
        version: 1,
        time_ns: opts.time.unwrap_or_else(jiff::Timestamp::now).as_nanosecond() as i64,
        hostname: host,
        username: crate::sys::username(),
        tags: opts.tags.clone(),
        sources: source_list,
        tree,
        parent: parent.map(|p| p.0),
        summary: Summary {
            files: stats.files_new + stats.files_changed + stats.files_unmodified,
            dirs: stats.dirs,
            symlinks: stats.symlinks,
            bytes: stats.bytes_logical,
        },
        nonce,
        stack: opts.stack.as_ref().map(|st| Stack { name: st.name.clone(), components }),
    };
    let snapshot = Snapshot { version: if snapshot.stack.is_some() { STACK_VERSION } else { 1 }, ..snapshot };
    let id = commit(repo, &written, &reused, &snapshot)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(BackupResult { id, snapshot, stats, written: written.stats, reports, warnings, seconds })
}

/// A backup stopped by a signal: what it stored is kept and indexed (a
/// partial index: packs no snapshot references yet), so the next backup
/// deduplicates against it instead of storing it again. Unreferenced, those
/// packs cost space until a prune after its grace period, never
/// correctness (the invariant above holds: no committed object names
/// them).
fn keep_partial(repo: &Repository, written: Written) -> Error {
    let bytes = written.stats.bytes_new_stored;
    match written.packs.is_empty() {
        true => Error::InterruptedBackup { packs: 0, bytes: 0 },
        false => match repo.save_index(written.packs.clone()) {
            Ok(_) => Error::InterruptedBackup { packs: written.packs.len() as u64, bytes },
            Err(e) => {
                undo(repo, &written);
                e
            }
        },
    }
}

/// Write the index for what the writer stored (already durable), then the
/// snapshot. On failure, delete what this backup wrote, leaving the
/// repository as it was.
pub(crate) fn commit(
    repo: &Repository,
    w: &Written,
    reused: &(HashSet<Id>, HashSet<Id>),
    snapshot: &Snapshot,
) -> Result<Id> {
    if let Err(e) = check_reused(repo, reused) {
        undo(repo, w);
        return Err(e);
    }
    crate::failpoint::hit("before-index");
    let index_keys = match repo.save_index(w.packs.clone()) {
        Ok(keys) => keys,
        Err(e) => {
            undo(repo, w);
            return Err(e);
        }
    };
    crate::failpoint::hit("before-snapshot");
    repo.save_snapshot(snapshot).inspect_err(|_| {
        for k in &index_keys {
            let _ = repo.backend().delete(k);
        }
        undo(repo, w);
    })
}

/// A prune may have marked packs (or dictionaries) this backup reused
/// after it loaded the index. A marked one that still exists is safe to
/// reference: the snapshot about to be written makes it referenced, and
/// the prune that would delete it walks all snapshots first. One already
/// deleted means the backup outlived prune's grace period: fail rather than
/// commit a snapshot with missing data.
fn check_reused(repo: &Repository, (packs, dicts): &(HashSet<Id>, HashSet<Id>)) -> Result<()> {
    crate::failpoint::pause("backup-before-commit");
    let (_, marked) = crate::repo::marks::load_marks(repo)?;
    let keys = packs
        .iter()
        .filter(|p| marked.contains_key(*p))
        .map(crate::pack::pack_key)
        .chain(dicts.iter().filter(|d| marked.contains_key(*d)).map(crate::repo::dicts::key));
    for key in keys {
        if let Err(crate::backend::BackendError::NotFound { .. }) = repo.backend().get_range(&key, 0, 1) {
            return Err(Error::ReusedObjectDeleted { key });
        }
    }
    Ok(())
}

/// Each source resolved by its kind, named uniquely; in name order, or a
/// stack's in the order given.
fn resolve(opts: &BackupOptions) -> Result<Vec<Resolved<'_>>> {
    let specs = &opts.sources;
    if specs.is_empty() {
        return Err(Error::InvalidArgument("nothing to back up: give at least one source".into()));
    }
    let mut out: Vec<Resolved> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let component = opts.stack.as_ref().map(|st| &st.components[i]);
        let in_component = |e: Error| match component {
            Some((n, _)) => Error::Component { name: n.clone(), source: Box::new(e) },
            None => e,
        };
        let (location, name) = spec.source.resolve(&spec.location).map_err(in_component)?;
        let (name, opts) = match component {
            Some((n, o)) => (n.as_bytes().to_vec(), o),
            None => (name, &opts.capture),
        };
        if out.iter().any(|s| s.name == name) {
            return Err(Error::InvalidArgument(format!(
                "two sources are both named {:?}: back them up separately or from a common parent directory",
                String::from_utf8_lossy(&name)
            )));
        }
        out.push(Resolved { spec, location, name, opts, component: component.is_some() });
    }
    if opts.stack.is_none() {
        out.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(out)
}

struct Captured {
    tree: Vec<Id>,
    stats: CaptureStats,
    reports: Vec<Report>,
    warnings: Vec<String>,
    /// Each source's record, for a stack snapshot.
    components: Vec<Component>,
}

/// Every source through its kind into `writer` (the parent's node of the
/// same name, whose metadata lets unchanged files skip reading, beside it);
/// returns the root tree.
fn capture(
    writer: &mut BlobWriter,
    sources: &[Resolved],
    parent: Option<&Snapshot>,
    observer: &mut dyn Observer,
) -> Result<Captured> {
    // A parent that cannot be read (damaged, or its data pruned meanwhile)
    // only means every file is read again.
    let mut warnings = Vec::new();
    let parent_root: HashMap<Vec<u8>, Node> = match parent.map(|p| writer.repo().load_tree(&p.tree)) {
        Some(Ok(nodes)) => nodes.into_iter().map(|n| (n.name.clone(), n)).collect(),
        Some(Err(e)) => {
            warnings.push(format!("the parent snapshot is unreadable ({e}); every file is read again"));
            HashMap::new()
        }
        None => HashMap::new(),
    };
    let (mut nodes, mut stats, mut reports, mut components) =
        (Vec::new(), CaptureStats::default(), Vec::new(), Vec::new());
    for (i, s) in sources.iter().enumerate() {
        let named = |e: Error| match s.component {
            true => Error::Component { name: String::from_utf8_lossy(&s.name).into_owned(), source: Box::new(e) },
            false => e,
        };
        if let Err(e) = observer.before(i) {
            // `after` runs whatever happened (it may resume what `before` paused).
            let _ = observer.after(i, false);
            return Err(e);
        }
        let start_ns = jiff::Timestamp::now().as_nanosecond() as i64;
        let t = Instant::now();
        if s.spec.source.node_kind().is_some() {
            writer.repo().progress().item(&s.location);
        }
        let c = s.spec.source.capture(writer, &s.location, s.name.clone(), parent_root.get(&s.name), s.opts);
        let after = observer.after(i, c.is_ok());
        let c = c.map_err(named)?;
        after?;
        if s.spec.source.node_kind().is_some() {
            writer.repo().progress().advance(0, 1);
        }
        components.push(record(s, &c, start_ns, t.elapsed()));
        stats.add(&c.stats);
        warnings.extend(c.warnings);
        reports.extend(c.report);
        nodes.extend(c.node);
    }
    nodes.sort_by(|a: &Node, b: &Node| a.name.cmp(&b.name));
    let mut root = TreeBuilder::new();
    let mut store = |bytes: Vec<u8>| writer.add(ObjectKind::Tree, &bytes);
    for n in nodes {
        debug_assert!(n.kind != NodeKind::Dir || n.name != b"");
        root.push(n, &mut store)?;
    }
    Ok(Captured { tree: root.finish(&mut store)?, stats, reports, warnings, components })
}

/// A source's stack record: its kind's report names the method and the hold
/// (`method`, `hold_ms`), when it has them.
fn record(s: &Resolved, c: &crate::source::Captured, start_ns: i64, took: std::time::Duration) -> Component {
    let json = c.report.as_ref().map(|r| &r.json);
    let field = |k: &str| json.and_then(|j| j.get(k));
    Component {
        name: String::from_utf8_lossy(&s.name).into_owned(),
        kind: s.spec.source.kind(),
        location: s.location.clone(),
        start_ns,
        duration_us: took.as_micros() as u64,
        hold_us: field("hold_ms").and_then(|v| v.as_u64()).map(|ms| ms * 1000),
        method: field("method")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            // A files walk reports nothing of its own.
            .unwrap_or_else(|| if s.spec.source.node_kind().is_none() { "walk" } else { s.spec.source.name() }.into()),
        bytes: c.stats.bytes_logical,
        bytes_read: c.stats.bytes_read,
    }
}

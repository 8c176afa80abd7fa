//! Restore: every entry of a snapshot (or of the paths `include` selects)
//! written under a target directory. The plan comes from one walk of the
//! snapshot's trees (`source::reach::entries`); directories are created
//! first, files are fetched pack by pack (`source::files::restore`),
//! symlinks made, every source node (a SQLite database) restored by its
//! kind with the kind's own verification, and directory metadata set last.
//!
//! Nothing is created, changed or followed outside the target: names are
//! single path components (validated when trees are decoded) and a
//! directory is created only where none is, or by replacing a file or
//! symlink in the way when overwriting is allowed, never by following one.

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::progress::{Started, Totals};
use crate::repo::Repository;
use crate::source::files::restore::{restore_files, restore_symlink, set_meta};
use crate::source::{self, Report, Source};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub target: PathBuf,
    /// Glob patterns on paths inside the snapshot (`*` stays within one path
    /// component, `**` crosses them); a match includes the whole subtree.
    pub include: Vec<String>,
    /// Left out, with a backup's `--exclude` rules (a glob without `/`
    /// matches a name at any depth, with `/` the path from the snapshot's
    /// root); an excluded directory goes with everything below it.
    pub exclude: Vec<String>,
    /// Allow a non-empty target and replace what is in the way.
    pub overwrite: bool,
    /// How source nodes (databases) are restored.
    pub sources: source::RestoreOptions,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// Range requests made to read the files' chunks.
    pub range_reads: u64,
    /// Bytes those requests returned.
    pub bytes_read: u64,
}

/// What a restore did: counts, and each source node's report.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    pub stats: RestoreStats,
    pub reports: Vec<Report>,
}

struct Item {
    rel: PathBuf,
    node: Node,
}

pub fn restore(repo: &Repository, snap: &Snapshot, opts: &RestoreOptions) -> Result<Restored> {
    let start = std::time::Instant::now();
    let includes = build_globs(&opts.include)?;
    check_target(&opts.target, opts.overwrite)?;
    let exclude = crate::source::files::exclude::Exclude::new(&opts.exclude).map_err(Error::InvalidArgument)?;
    let mut items = plan(repo, snap, includes.as_ref().map(|g| (g, opts.include.as_slice())))?;
    if items.is_empty() && !opts.include.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no path in the snapshot matches the include pattern(s) {}: list the snapshot's paths to choose",
            opts.include.join(", ")
        )));
    }
    items.retain(|it| !it.rel.ancestors().any(|a| !a.as_os_str().is_empty() && exclude.excludes(a)));
    if items.is_empty() && !opts.exclude.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "--exclude {} leaves nothing of the snapshot to restore: list the snapshot's paths to choose",
            opts.exclude.join(", ")
        )));
    }
    let tw = |path: &Path| {
        let path = path.to_path_buf();
        move |e| Error::TargetWrite { path, source: e }
    };
    fs::create_dir_all(&opts.target).map_err(tw(&opts.target))?;
    let at = |it: &Item| opts.target.join(&it.rel);
    let of = |kind: NodeKind| items.iter().filter(move |i| i.node.kind == kind);

    let mut stats = RestoreStats::default();
    let data = || items.iter().filter(|i| matches!(i.node.kind, NodeKind::File | NodeKind::Source(_)));
    let (total_bytes, total_items) = (data().map(|i| i.node.size).sum(), data().count() as u64);
    let _shown =
        Started::new(repo.progress(), "restore", Totals { bytes: Some(total_bytes), items: Some(total_items) });
    // Parents before children, so every file below is written into a
    // directory this loop has checked is a real one, never through a symlink.
    for it in of(NodeKind::Dir) {
        ensure_dir(&at(it), opts.overwrite).map_err(tw(&at(it)))?;
        stats.dirs += 1;
    }
    let files: Vec<(PathBuf, &Node)> = of(NodeKind::File).map(|it| (at(it), &it.node)).collect();
    let (mut errors, read) = restore_files(repo, &files);
    let links: Vec<&Item> = of(NodeKind::Symlink).collect();
    errors.extend(links.par_iter().filter_map(|it| restore_symlink(&at(it), &it.node).err()).collect::<Vec<_>>());
    stats.files = files.len() as u64;
    stats.bytes = files.iter().map(|f| f.1.size).sum();
    stats.symlinks = links.len() as u64;
    stats.range_reads = read.range_reads;
    stats.bytes_read = read.bytes_read;
    // Source nodes, each through its kind (verified before it appears).
    let sopts = source::RestoreOptions { overwrite: opts.overwrite, ..opts.sources.clone() };
    let mut reports = Vec::new();
    let mut source_error = None;
    for it in items.iter().filter(|i| matches!(i.node.kind, NodeKind::Source(_))) {
        repo.check_cancel()?;
        repo.progress().item(&it.rel.to_string_lossy());
        let r = source::of_node(&it.node, &it.rel).and_then(|k| k.restore(repo, &it.node, &at(it), &sopts));
        match r {
            Ok(rep) => {
                repo.progress().advance(it.node.size, 1);
                reports.push(rep)
            }
            Err(e) => {
                source_error.get_or_insert(e);
            }
        }
    }
    // Directory metadata last, deepest first, so writing children does not
    // disturb a directory's mtime and a read-only directory is filled first.
    for it in items.iter().rev().filter(|i| i.node.kind == NodeKind::Dir) {
        set_meta(&at(it), &it.node).map_err(tw(&at(it)))?;
    }
    // Stopped: every file not finished removed its temporary file; those
    // done are in place, and a rerun with overwriting allowed completes.
    if repo.cancelled() {
        let total = files.len() as u64;
        return Err(Error::InterruptedRestore { done: total - errors.len() as u64, total });
    }
    if let Some(first) = errors.first() {
        return Err(Error::RestoreIncomplete { failed: errors.len(), total: items.len(), first: first.clone() });
    }
    if let Some(e) = source_error {
        return Err(e);
    }
    stats.seconds = start.elapsed().as_secs_f64();
    Ok(Restored { stats, reports })
}

/// Restore the one source node of kind `kind` in the snapshot to `target`
/// (a database to a path of its own); refused when there is none or more.
pub fn restore_one(
    repo: &Repository,
    snap: &Snapshot,
    kind: &dyn Source,
    target: &Path,
    opts: &source::RestoreOptions,
) -> Result<Report> {
    let all = plan(repo, snap, None)?;
    let nodes: Vec<&Item> = all.iter().filter(|i| Some(i.node.kind) == kind.node_kind()).collect();
    match nodes.as_slice() {
        [one] => kind.restore(repo, &one.node, target, opts),
        _ => Err(Error::InvalidArgument(format!(
            "the snapshot holds {} {} sources, not one: restore it into a directory instead",
            nodes.len(),
            kind.name()
        ))),
    }
}

/// Make `p` a real directory: keep one, create a missing one, and replace
/// a file or symlink in the way only when overwriting (a symlink is
/// removed, never followed).
fn ensure_dir(p: &Path, overwrite: bool) -> std::io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) if overwrite => {
            fs::remove_file(p)?;
            fs::create_dir(p)
        }
        Ok(_) => Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "a file or symlink is in the way")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::create_dir(p),
        Err(e) => Err(e),
    }
}

fn build_globs(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = GlobBuilder::new(p.trim_start_matches('/'))
            .literal_separator(true)
            .build()
            .map_err(|e| Error::InvalidArgument(format!("include pattern {p:?} is not a valid glob: {e}")))?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| Error::InvalidArgument(format!("bad include patterns: {e}")))
}

fn check_target(target: &Path, overwrite: bool) -> Result<()> {
    match fs::read_dir(target) {
        Ok(mut rd) => {
            if rd.next().is_some() && !overwrite {
                Err(Error::TargetNotEmpty(target.to_path_buf()))
            } else {
                Ok(())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::TargetWrite { path: target.to_path_buf(), source: e }),
    }
}

/// Every entry to restore, directories before their contents.
fn plan(repo: &Repository, snap: &Snapshot, includes: Option<(&GlobSet, &[String])>) -> Result<Vec<Item>> {
    let mut all = Vec::new();
    let mut unreadable: Vec<(PathBuf, Error)> = Vec::new();
    let mut v = source::reach::Fns {
        blob: |r: source::reach::Reached| Ok(r.kind == crate::format::ObjectKind::Tree),
        node: |p: &Path, n: &Node| {
            all.push(Item { rel: p.to_path_buf(), node: n.clone() });
            Ok(n.kind == NodeKind::Dir)
        },
        // A directory whose listing cannot be read stops the restore only
        // if it may hold what is restored (below).
        failed: |_: &crate::format::id::Id, p: &Path, e: Error| {
            unreadable.push((p.to_path_buf(), e));
            Ok(())
        },
    };
    source::reach::walk(&mut |id| repo.read_blob(id), &snap.tree, &mut v)?;
    for (dir, e) in unreadable {
        if includes.is_none_or(|(_, pats)| may_hold(&dir, pats)) {
            return Err(e);
        }
    }
    let Some((globs, _)) = includes else { return Ok(all) };
    let selected: Vec<bool> =
        all.iter().map(|it| it.rel.ancestors().any(|a| !a.as_os_str().is_empty() && globs.is_match(a))).collect();
    // Keep selected entries and the directories above them.
    let mut needed: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    for (it, sel) in all.iter().zip(&selected) {
        if *sel {
            needed.extend(it.rel.ancestors().map(Path::to_path_buf));
        }
    }
    Ok(all.into_iter().zip(selected).filter(|(it, sel)| *sel || needed.contains(&it.rel)).map(|(it, _)| it).collect())
}

/// Whether the unreadable directory `dir` may hold entries the include
/// patterns select: unless every pattern begins with a literal top-level
/// name other than `dir`'s, it may.
fn may_hold(dir: &Path, patterns: &[String]) -> bool {
    let top = dir.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
    patterns.iter().any(|p| {
        let first = p.trim_start_matches('/').split('/').next().unwrap_or("");
        first.contains(['*', '?', '[', '{']) || top.as_deref().is_none_or(|t| t == first)
    })
}

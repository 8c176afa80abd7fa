//! `diff`: what changed from one snapshot to another. Entries are matched
//! by path: added, removed, modified (other contents, or another type),
//! or metadata only (same contents; mode, owner or mtime changed). A
//! modified database or Chroma directory is compared part by part through
//! its kind's `parts` (the one seam `ls` uses too): how many pages of a
//! database, elements of an HNSW index, blocks or chunks of a file
//! changed. Directories are reported only for mode or owner changes (their
//! mtime moves with every file inside).

use crate::error::Result;
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::repo::Repository;
use crate::source::{Part, Unit};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Modified,
    Metadata,
}

/// One part of a modified source node that changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartChange {
    pub path: String,
    /// `pages`, `elements`, `blocks` or `chunks`.
    pub unit: &'static str,
    /// Units in the newer snapshot.
    pub total: u64,
    /// Units at the same place holding other bytes (chunks: new chunks).
    pub changed: u64,
    /// Units beyond the older one's end (a grown database, new elements).
    pub added: u64,
    /// Units the older one had beyond the newer one's end.
    pub removed: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// From the snapshot's root, starting with `/`.
    pub path: String,
    pub change: Change,
    /// `file`, `dir`, `symlink`, or a source kind's name.
    pub kind: String,
    /// Parts of a modified source node that changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartChange>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    pub metadata: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Diff {
    pub entries: Vec<Entry>,
    pub counts: Counts,
}

/// Every entry of a snapshot by path.
fn all_entries(repo: &Repository, snap: &Snapshot) -> Result<BTreeMap<PathBuf, Node>> {
    let mut m = BTreeMap::new();
    crate::source::reach::entries(&mut |id| repo.read_blob(id), &snap.tree, &mut |p, n| {
        m.insert(p.to_path_buf(), n.clone());
        Ok(())
    })?;
    Ok(m)
}

/// What changed between `a` (older) and `b` (newer).
pub fn diff(repo: &Repository, a: &Snapshot, b: &Snapshot) -> Result<Diff> {
    let (old, new) = (all_entries(repo, a)?, all_entries(repo, b)?);
    let mut d = Diff::default();
    let push = |d: &mut Diff, p: &Path, change, n: &Node, parts| {
        let c = &mut d.counts;
        *match change {
            Change::Added => &mut c.added,
            Change::Removed => &mut c.removed,
            Change::Modified => &mut c.modified,
            Change::Metadata => &mut c.metadata,
        } += 1;
        d.entries.push(Entry { path: format!("/{}", p.display()), change, kind: crate::source::kind_name(n), parts });
    };
    for (p, o) in &old {
        if !new.contains_key(p) {
            push(&mut d, p, Change::Removed, o, vec![]);
        }
    }
    for (p, n) in &new {
        let Some(o) = old.get(p) else {
            push(&mut d, p, Change::Added, n, vec![]);
            continue;
        };
        let owner = o.mode != n.mode || o.uid != n.uid || o.gid != n.gid;
        let contents = o.kind != n.kind || o.content != n.content || o.target != n.target;
        match n.kind {
            NodeKind::Dir if o.kind == NodeKind::Dir && owner => push(&mut d, p, Change::Metadata, n, vec![]),
            NodeKind::Dir if o.kind == NodeKind::Dir => {}
            NodeKind::Source(_) if contents && o.kind == n.kind => {
                let parts = part_changes(repo, p, o, n)?;
                push(&mut d, p, Change::Modified, n, parts);
            }
            _ if contents => push(&mut d, p, Change::Modified, n, vec![]),
            _ if owner || o.mtime_ns != n.mtime_ns => push(&mut d, p, Change::Metadata, n, vec![]),
            _ => {}
        }
    }
    d.entries.sort_by(|x, y| x.path.cmp(&y.path));
    Ok(d)
}

/// The changed parts of two versions of a source node.
fn part_changes(repo: &Repository, path: &Path, o: &Node, n: &Node) -> Result<Vec<PartChange>> {
    let kind = crate::source::of_node(n, path)?;
    let old: BTreeMap<String, Part> = kind.parts(repo, o)?.into_iter().map(|p| (p.path.clone(), p)).collect();
    let mut out = Vec::new();
    for p in kind.parts(repo, n)? {
        let c = match old.get(&p.path) {
            Some(q) => compare(q, &p),
            None => PartChange {
                path: p.path.clone(),
                unit: p.unit.name(),
                total: p.units.len() as u64,
                changed: 0,
                added: p.units.len() as u64,
                removed: 0,
            },
        };
        if c.changed + c.added + c.removed > 0 {
            out.push(c);
        }
    }
    Ok(out)
}

/// Units that differ: place by place, or for chunks as sets.
fn compare(old: &Part, new: &Part) -> PartChange {
    let (a, b) = (&old.units, &new.units);
    let (changed, added, removed) = match new.unit {
        Unit::Chunks => {
            let had: HashSet<_> = a.iter().collect();
            let has: HashSet<_> = b.iter().collect();
            (has.difference(&had).count() as u64, 0, 0)
        }
        _ => {
            let common = a.len().min(b.len());
            let changed = (0..common).filter(|&i| a[i] != b[i]).count() as u64;
            (changed, b.len().saturating_sub(a.len()) as u64, a.len().saturating_sub(b.len()) as u64)
        }
    };
    PartChange { path: new.path.clone(), unit: new.unit.name(), total: b.len() as u64, changed, added, removed }
}

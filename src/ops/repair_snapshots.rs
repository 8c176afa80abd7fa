//! `repair snapshots`: for each snapshot that uses damaged or missing data
//! (as `check` finds it: structurally, or by reading packs), a new
//! snapshot that keeps everything undamaged. A file, a database or a Chroma
//! directory that uses a damaged blob is dropped whole (a part of one is no
//! use); a directory whose listing is damaged is dropped with what it held.
//! What was dropped is recorded in the new snapshot's tags (`dropped:PATH`,
//! and `repaired-from:ID`) and returned. Only new objects are written (trees,
//! their index, the snapshot); the original snapshot is kept until the
//! user forgets it, never silently replaced.

use crate::error::{Error, Result};
use crate::format::id::{random_bytes, Id};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind, TreeBuilder};
use crate::format::ObjectKind;
use crate::ops::check::{check_with, ReadData};
use crate::pipeline::write::{BlobWriter, Dedup};
use crate::repo::Repository;
use crate::source::reach::{walk, Fns, Reached};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// Tags recorded per dropped path, at most; the rest are counted.
const MAX_DROPPED_TAGS: usize = 100;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Repaired {
    /// The damaged snapshot, kept.
    pub original: String,
    /// The new one, or None when nothing undamaged remained.
    pub new: Option<String>,
    /// Every path left out.
    pub dropped: Vec<String>,
}

/// Repair every snapshot that needs it; `read` chooses how damage is found.
pub fn repair_snapshots(repo: &Repository, read: ReadData, dry_run: bool) -> Result<Vec<Repaired>> {
    let report = check_with(repo, read)?;
    let bad: HashSet<Id> = report.damaged_blobs.iter().filter_map(|b| Id::parse(&b.id)).collect();
    let mut out = Vec::new();
    for (id, snap) in repo.list_snapshots()? {
        let damaged = damaged_paths(repo, &snap, &bad)?;
        if damaged.is_empty() {
            continue;
        }
        let mut dropped = Vec::new();
        let mut w = BlobWriter::new(repo, Dedup::Index);
        let mut keep = HashSet::new();
        let tree = rewrite(repo, &mut w, &snap.tree, Path::new(""), &damaged, &mut dropped, Some(&mut keep))?;
        let new = match (tree, dry_run) {
            (Some(tree), false) if !keep.is_empty() => Some(commit(repo, w, &id, &snap, tree, &keep, &dropped)?),
            _ => {
                let _ = w.abort();
                None
            }
        };
        out.push(Repaired { original: id.to_hex(), new: new.map(|n| n.to_hex()), dropped });
    }
    Ok(out)
}

/// The paths (files, source nodes, directories) of `snap` that use a bad
/// blob or one that cannot be read.
fn damaged_paths(repo: &Repository, snap: &Snapshot, bad: &HashSet<Id>) -> Result<BTreeSet<PathBuf>> {
    let mut found = BTreeSet::new();
    let cell = std::cell::RefCell::new(&mut found);
    let mut v = Fns {
        blob: |r: Reached| {
            if bad.contains(r.id) {
                cell.borrow_mut().insert(r.path.to_path_buf());
                return Ok(false);
            }
            Ok(true)
        },
        node: |_: &Path, _: &Node| Ok(true),
        failed: |_: &Id, p: &Path, _: Error| {
            cell.borrow_mut().insert(p.to_path_buf());
            Ok(())
        },
    };
    walk(&mut |id| repo.read_blob(id), &snap.tree, &mut v)?;
    Ok(found)
}

/// The directory `ids` at `path` without its damaged entries (None: its
/// own listing is damaged).
fn rewrite(
    repo: &Repository,
    w: &mut BlobWriter,
    ids: &[Id],
    path: &Path,
    damaged: &BTreeSet<PathBuf>,
    dropped: &mut Vec<String>,
    mut kept: Option<&mut HashSet<Vec<u8>>>,
) -> Result<Option<Vec<Id>>> {
    if !path.as_os_str().is_empty() && damaged.contains(path) {
        dropped.push(path.display().to_string());
        return Ok(None);
    }
    let nodes = repo.load_tree(ids)?;
    let mut b = TreeBuilder::new();
    for mut n in nodes {
        let p = path.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&n.name));
        let below = damaged.range(p.clone()..).next().is_some_and(|d| d.starts_with(&p));
        if below && n.kind == NodeKind::Dir {
            match rewrite(repo, w, &n.subtree.clone(), &p, damaged, dropped, None)? {
                Some(t) => n.subtree = t,
                None => continue,
            }
        } else if below {
            dropped.push(p.display().to_string());
            continue;
        }
        if let Some(k) = kept.as_deref_mut() {
            k.insert(n.name.clone());
        }
        b.push(n, &mut |bytes: Vec<u8>| w.add(ObjectKind::Tree, &bytes))?;
    }
    Ok(Some(b.finish(&mut |bytes: Vec<u8>| w.add(ObjectKind::Tree, &bytes))?))
}

/// Write the new trees' index and the new snapshot.
fn commit(
    repo: &Repository,
    w: BlobWriter,
    from: &Id,
    snap: &Snapshot,
    tree: Vec<Id>,
    keep: &HashSet<Vec<u8>>,
    dropped: &[String],
) -> Result<Id> {
    let written = w.finish()?;
    repo.save_index(written.packs.clone())?;
    let name_of = |i: usize| -> Vec<u8> {
        match &snap.stack {
            Some(st) => st.components[i].name.as_bytes().to_vec(),
            None => crate::source::by_kind(snap.sources[i].kind)
                .and_then(|k| k.resolve(std::ffi::OsStr::new(&snap.sources[i].path)).ok().map(|r| r.1))
                .unwrap_or_else(|| {
                    Path::new(&snap.sources[i].path)
                        .file_name()
                        .map(|n| n.as_encoded_bytes().to_vec())
                        .unwrap_or_default()
                }),
        }
    };
    let kept: Vec<usize> = (0..snap.sources.len()).filter(|i| keep.contains(&name_of(*i))).collect();
    let mut tags = snap.tags.clone();
    tags.push(format!("repaired-from:{}", from.short()));
    tags.extend(dropped.iter().take(MAX_DROPPED_TAGS).map(|d| format!("dropped:{d}")));
    if dropped.len() > MAX_DROPPED_TAGS {
        tags.push(format!("dropped:and {} more", dropped.len() - MAX_DROPPED_TAGS));
    }
    let mut nonce = [0u8; 16];
    random_bytes(&mut nonce);
    let mut new = Snapshot {
        tags,
        tree,
        parent: Some(*from),
        nonce,
        sources: kept.iter().map(|i| snap.sources[*i].clone()).collect(),
        ..snap.clone()
    };
    if let Some(st) = &mut new.stack {
        st.components = kept.iter().map(|i| st.components[*i].clone()).collect();
    }
    repo.save_snapshot(&new)
}

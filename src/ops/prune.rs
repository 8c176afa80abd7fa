//! `prune`: reclaim the space of data no snapshot references, safely with
//! backups running at the same time and across crashes (format-spec/prune.md).
//!
//! Planned first (`plan`, shown by `--dry-run`), then run in named phases:
//! 1. **mark reachable** — every blob reachable from every snapshot, as one
//!    bit per index entry;
//! 2. **classify packs** — unreferenced, sparse (unused share above
//!    `--max-unused`), marked earlier (waiting, due, or referenced again);
//! 3. **repack** — copy the referenced blobs of sparse packs into new packs
//!    and index them;
//! 4. **mark** — record unreferenced and repacked packs, with the time, in a
//!    new `marked/` object; backups from now on treat them as absent;
//! 5. **delete** — for packs marked at least `--grace` ago and still
//!    unreferenced: write an index without them, retire the old index
//!    files, then delete the packs.
//!
//! A backup that began before a mark may still reuse a marked pack; its
//! snapshot then references the pack, and the prune that would delete it
//! (at least `grace` later) walks that snapshot first and keeps the pack.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::format::tree::Node;
use crate::pack::index::{IndexPack, Location, MasterIndex};
use crate::pack::pack_key;
use crate::pipeline::write::{BlobWriter, Dedup};
use crate::progress::{Started, Totals};
use crate::repo::{IndexLoad, Repository};
use crate::source::reach::Fns;
use crate::source::reach::Reached;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Repack a pack when more than this share of it is unreferenced.
    pub max_unused: f64,
    /// Delete marked packs only this long after the mark.
    pub grace: Duration,
}

/// Default `--max-unused`: 10% (format-spec/prune.md explains the choice).
pub const DEFAULT_MAX_UNUSED: f64 = 0.10;
/// Default `--grace`: 24 hours, longer than any backup is expected to run.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Counts and bytes of what prune found and will do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanSummary {
    pub snapshots: usize,
    pub packs: usize,
    pub blobs_referenced: u64,
    pub bytes_referenced: u64,
    pub blobs_unreferenced: u64,
    pub bytes_unreferenced: u64,
    pub packs_to_mark: usize,
    pub bytes_to_mark: u64,
    pub packs_to_repack: usize,
    pub bytes_to_repack: u64,
    pub packs_to_delete: usize,
    pub bytes_to_delete: u64,
    pub packs_waiting: usize,
    pub packs_rescued: usize,
    pub packs_unindexed: usize,
    /// Packs the index names that no longer exist (deleted by a concurrent
    /// prune, or lost); none holds a referenced blob, else prune stops.
    pub packs_missing: usize,
    /// Dictionaries no snapshot's manifest names (marked, or due).
    pub dictionaries_unused: usize,
}

pub struct Plan {
    pub summary: PlanSummary,
    /// The index prune read, after listing the snapshots, and its file keys.
    load: IndexLoad,
    referenced: Vec<u64>,
    sizes: HashMap<Id, u64>,
    to_mark: Vec<Id>,
    to_repack: Vec<Id>,
    to_delete: HashSet<Id>,
    /// Indexed packs that do not exist: dropped from the new index.
    missing: HashSet<Id>,
    /// Marks to keep: waiting packs with their original times.
    keep_marks: HashMap<Id, i64>,
    mark_keys: Vec<String>,
    /// Dictionaries no snapshot uses: to mark now, and marked long enough.
    dicts_to_mark: Vec<Id>,
    dicts_to_delete: Vec<Id>,
    now_ns: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneResult {
    pub packs_written: usize,
    pub packs_marked: usize,
    pub packs_deleted: usize,
    pub bytes_freed: u64,
    pub index_files_written: usize,
    pub index_files_removed: usize,
    pub dictionaries_deleted: usize,
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

/// Phase 1: one bit per index entry, set for every blob a snapshot
/// reaches, and the dictionaries their manifests name.
fn mark_reachable(repo: &Repository, index: &MasterIndex, snaps: &[(Id, Snapshot)]) -> Result<(Vec<u64>, HashSet<Id>)> {
    let mut bits = vec![0u64; index.len().div_ceil(64)];
    let mut dicts = HashSet::new();
    let mut read = |id: &Id| repo.read_blob_with(index, id);
    let _shown = Started::new(repo.progress(), "prune", Totals { bytes: None, items: Some(snaps.len() as u64) });
    for (sid, snap) in snaps {
        repo.progress().item(&format!("snapshot {}", sid.short()));
        let blob = |r: Reached| -> Result<bool> {
            if r.kind == crate::format::ObjectKind::Dictionary {
                dicts.insert(*r.id); // not a blob: an object of its own
                return Ok(false);
            }
            let i = index.position(r.id).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{} blob {} is referenced but not indexed: run `cairn check` (and `cairn repair index` if a pack holds it); prune removes nothing until it passes",
                    r.kind.name(), r.id
                ))
            })?;
            let new = !bit(&bits, i);
            bits[i / 64] |= 1 << (i % 64);
            Ok(new) // a tree, manifest or page list already walked is not walked again
        };
        let mut v = Fns { blob, node: |_: &Path, _: &Node| Ok(true), failed: |_: &Id, _: &Path, e| Err(e) };
        crate::source::reach::walk(&mut read, &snap.tree, &mut v)?;
        repo.progress().advance(0, 1);
    }
    Ok((bits, dicts))
}

/// Dictionaries are marked and deleted like packs (one list of marks): an
/// unused one is marked, deleted once marked at least `grace` ago and still
/// unused; one used again loses its mark.
fn classify_dictionaries(
    repo: &Repository,
    used: &HashSet<Id>,
    marks: &HashMap<Id, i64>,
    due: &dyn Fn(i64) -> bool,
    plan: &mut Plan,
) -> Result<()> {
    for d in crate::repo::dicts::ids(repo)? {
        match marks.get(&d) {
            Some(_) if used.contains(&d) => {}
            Some(&t) if due(t) => plan.dicts_to_delete.push(d),
            Some(&t) => {
                plan.keep_marks.insert(d, t);
            }
            None if !used.contains(&d) => plan.dicts_to_mark.push(d),
            None => {}
        }
    }
    plan.summary.dictionaries_unused = plan.dicts_to_mark.len() + plan.dicts_to_delete.len();
    Ok(())
}

/// Phases 1 and 2: what is referenced, and what to do with every pack.
pub fn plan(repo: &Repository, opts: &PruneOptions) -> Result<Plan> {
    if !(0.0..=1.0).contains(&opts.max_unused) {
        return Err(Error::InvalidArgument(format!("max_unused {} is not a share from 0 to 1", opts.max_unused)));
    }
    // A pack holding a referenced blob that is gone by the time packs are
    // listed was repacked and deleted by a concurrent prune: its copies are
    // in index files written since, so the plan is made again.
    let mut last = String::new();
    for _ in 0..3 {
        match plan_once(repo, opts)? {
            Ok(plan) => return Ok(plan),
            Err(gone) => last = gone,
        }
    }
    Err(Error::InvalidArgument(format!(
        "pack {last} holds blobs snapshots use but does not exist: run `cairn check`; prune changed nothing"
    )))
}

/// One attempt at a plan; `Ok(Err(pack))` when a referenced pack vanished.
fn plan_once(repo: &Repository, opts: &PruneOptions) -> Result<std::result::Result<Plan, String>> {
    // The order of these reads is what makes prune safe beside backups
    // (format-spec/prune.md, "Concurrent cases"): the time first, so every
    // snapshot committed before it is in the listing; snapshots before the
    // index, so every blob they reach was indexed before prune reads the
    // index; the index before the packs, so every pack it names that still
    // exists is listed.
    let now_ns = jiff::Timestamp::now().as_nanosecond() as i64;
    let snaps = repo.list_snapshots()?;
    let load = repo.read_index()?;
    crate::failpoint::pause("prune-index-loaded");
    if let Some(p) = load.problems.first() {
        return Err(Error::InvalidArgument(format!(
            "{p}: run `cairn repair index` first; prune changes nothing while an index file is unreadable"
        )));
    }
    let (mark_keys, marks) = crate::repo::marks::load_marks(repo)?;
    let sizes: HashMap<Id, u64> = repo.pack_sizes()?;
    let index = &load.index;
    let (referenced, used_dicts) = mark_reachable(repo, index, &snaps)?;
    let mut s = PlanSummary { snapshots: snaps.len(), packs: sizes.len(), ..Default::default() };
    // Referenced and unreferenced blob bytes per pack, through the index's
    // view (a pack's header and trailer are neither: they are not waste).
    let mut used: HashMap<Id, u64> = HashMap::new();
    let mut unused: HashMap<Id, u64> = HashMap::new();
    // A frame member counts its share of the frame: a frame of dead and
    // live members is waste in that proportion, and repacking it copies
    // the live ones into new frames.
    let shares = index.shares();
    for i in 0..index.len() {
        let (_, loc) = index.entry(i);
        let len = index.share(&shares, i);
        if bit(&referenced, i) {
            s.blobs_referenced += 1;
            s.bytes_referenced += len;
            *used.entry(loc.pack).or_default() += len;
        } else {
            s.blobs_unreferenced += 1;
            s.bytes_unreferenced += len;
            *unused.entry(loc.pack).or_default() += len;
        }
    }
    let mut missing = HashSet::new();
    for pack in used.keys().chain(unused.keys()).filter(|p| !sizes.contains_key(*p)) {
        if used.contains_key(pack) {
            return Ok(Err(pack_key(pack)));
        }
        missing.insert(*pack);
    }
    s.packs_missing = missing.len();
    let grace_ns = opts.grace.as_nanos().min(i64::MAX as u128) as i64;
    let (mut to_mark, mut to_repack, mut to_delete, mut keep_marks) = (vec![], vec![], HashSet::new(), HashMap::new());
    for (&pack, &size) in &sizes {
        let used = used.get(&pack).copied().unwrap_or(0);
        match marks.get(&pack) {
            Some(_) if used > 0 => s.packs_rescued += 1,
            Some(&t) if now_ns.saturating_sub(t) >= grace_ns => {
                to_delete.insert(pack);
            }
            Some(&t) => {
                s.packs_waiting += 1;
                keep_marks.insert(pack, t);
            }
            None if used == 0 => {
                // Unreferenced, or not indexed at all (left by an interrupted
                // backup, or being written by a running one): mark, never
                // delete at once, unless the grace is zero.
                if !index.has_pack(&pack) {
                    s.packs_unindexed += 1;
                }
                s.packs_to_mark += 1;
                s.bytes_to_mark += size;
                to_mark.push(pack);
            }
            None if unused.get(&pack).copied().unwrap_or(0) as f64
                > opts.max_unused * (used + unused.get(&pack).copied().unwrap_or(0)) as f64 =>
            {
                s.packs_to_repack += 1;
                s.bytes_to_repack += used;
                to_repack.push(pack);
            }
            None => {}
        }
    }
    if grace_ns == 0 {
        to_delete.extend(to_mark.iter().chain(&to_repack).copied());
    }
    s.packs_to_delete = to_delete.len();
    s.bytes_to_delete = to_delete.iter().map(|p| sizes[p]).sum();
    let mut plan = Plan {
        summary: s,
        load,
        referenced,
        sizes,
        to_mark,
        to_repack,
        to_delete,
        missing,
        keep_marks,
        mark_keys,
        now_ns,
        dicts_to_mark: vec![],
        dicts_to_delete: vec![],
    };
    let due = |t: i64| now_ns.saturating_sub(t) >= grace_ns;
    classify_dictionaries(repo, &used_dicts, &marks, &due, &mut plan)?;
    if grace_ns == 0 {
        let now = std::mem::take(&mut plan.dicts_to_mark);
        plan.dicts_to_delete.extend(now);
    }
    Ok(Ok(plan))
}

/// Phases 3–5.
pub fn run(repo: &Repository, plan: &Plan) -> Result<PruneResult> {
    let mut r = PruneResult::default();
    let (repacked, vanished) = repack(repo, plan)?;
    r.packs_written = repacked.len();
    if !repacked.is_empty() {
        r.index_files_written += repo.save_index(repacked.clone())?.len();
    }
    crate::failpoint::hit("prune-after-repack");

    // Mark: one new object replaces the old ones; due packs stay listed
    // until they are gone (a crash before deleting them loses nothing).
    let mut marks = plan.keep_marks.clone();
    for p in plan.to_mark.iter().chain(&plan.to_repack) {
        marks.insert(*p, plan.now_ns);
        r.packs_marked += 1;
    }
    for p in plan.to_delete.iter().chain(&plan.dicts_to_delete) {
        marks.entry(*p).or_insert(plan.now_ns);
    }
    for d in &plan.dicts_to_mark {
        marks.insert(*d, plan.now_ns);
    }
    let new_key = crate::repo::marks::save_marks(repo, &marks)?;
    for k in plan.mark_keys.iter().filter(|k| Some(*k) != new_key.as_ref()) {
        repo.backend().delete(k)?;
    }
    crate::failpoint::hit("prune-after-mark");
    // Dictionaries are not indexed: nothing names a due one any more.
    for d in &plan.dicts_to_delete {
        repo.backend().delete(&crate::repo::dicts::key(d))?;
        r.dictionaries_deleted += 1;
    }
    if plan.to_delete.is_empty() && plan.missing.is_empty() {
        return Ok(r);
    }

    // Delete: first an index without the due packs, then retire the index
    // files it replaces, then the packs themselves.
    let repacked_ids: HashSet<Id> = repacked.iter().flat_map(|p| p.blobs.iter().map(|b| b.id)).collect();
    let index = &plan.load.index;
    // Positions of the entries to keep, ordered by pack: 4 bytes each, so
    // the new index is streamed out without a second copy of the index.
    let mut keep: Vec<u32> = Vec::with_capacity(index.len());
    for i in 0..index.len() {
        let (id, loc) = index.entry(i);
        if !plan.to_delete.contains(&loc.pack) && !plan.missing.contains(&loc.pack) {
            keep.push(i as u32);
        } else if bit(&plan.referenced, i) && !repacked_ids.contains(&id) && !vanished.contains(&loc.pack) {
            return Err(Error::InvalidArgument(format!(
                "internal check failed: referenced blob {id} would be deleted with pack {}; nothing was deleted",
                loc.pack
            )));
        }
    }
    let at = |i: u32| index.entry(i as usize);
    keep.sort_unstable_by_key(|&i| index.pack_order(i as usize));
    let packs = keep
        .chunk_by(|&a, &b| index.pack_order(a as usize).0 == index.pack_order(b as usize).0)
        .map(|run| IndexPack { id: at(run[0]).1.pack, blobs: run.iter().map(|&i| at(i).1.entry(at(i).0)).collect() });
    let written = repo.save_index(packs)?;
    r.index_files_written += written.len();
    crate::failpoint::hit("prune-after-index");
    // Only the files this prune read: one a backup committed since holds
    // entries the new index does not, and stays.
    // Index keys are content hashes: a file just written may have the name
    // of one read (the same entries after an interrupted prune, in a
    // plaintext repository), and must not be retired with it.
    for k in plan.load.keys.iter().filter(|k| !written.contains(k)) {
        repo.backend().delete(k)?;
        r.index_files_removed += 1;
    }
    crate::failpoint::hit("prune-after-index-removal");
    for p in &plan.to_delete {
        crate::failpoint::hit("prune-delete-pack");
        match repo.backend().delete(&pack_key(p)) {
            Ok(()) | Err(crate::backend::BackendError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        r.packs_deleted += 1;
        r.bytes_freed += plan.sizes.get(p).copied().unwrap_or(0);
    }
    Ok(r)
}

/// Store a copied blob as it was stored: a frame member into a new frame
/// (with the other live members it is copied with), anything else alone.
pub fn copy(writer: &mut BlobWriter, kind: crate::format::ObjectKind, id: Id, raw: &[u8]) -> Result<Id> {
    match kind {
        crate::format::ObjectKind::Frame => writer.add_small(id, raw),
        k => writer.add_hashed(k, id, raw, None),
    }
}

/// Phase 3: the referenced blobs of sparse packs into new packs. A pack
/// that has gone since the plan was repacked by a concurrent prune, whose
/// copies are indexed in files this prune does not retire: it is skipped
/// and returned.
fn repack(repo: &Repository, plan: &Plan) -> Result<(Vec<IndexPack>, HashSet<Id>)> {
    let mut vanished = HashSet::new();
    if plan.to_repack.is_empty() {
        return Ok((vec![], vanished));
    }
    let index = &plan.load.index;
    let wanted: HashSet<Id> = plan.to_repack.iter().copied().collect();
    let mut by_pack: HashMap<Id, Vec<(Id, Location)>> = HashMap::new();
    for i in 0..index.len() {
        let (id, loc) = index.entry(i);
        if bit(&plan.referenced, i) && wanted.contains(&loc.pack) {
            by_pack.entry(loc.pack).or_default().push((id, loc));
        }
    }
    // Copies go into new packs even though the index already has them.
    let mut writer = BlobWriter::new(repo, Dedup::Nothing);
    let _shown = Started::new(repo.progress(), "repack", Totals { bytes: None, items: Some(by_pack.len() as u64) });
    let copied = (|| -> Result<()> {
        for (pack, blobs) in &by_pack {
            repo.progress().item(&format!("pack {}", pack.short()));
            let bytes = match repo.backend().get(&pack_key(pack)) {
                Err(crate::backend::BackendError::NotFound { .. }) => {
                    vanished.insert(*pack);
                    continue;
                }
                other => other?,
            };
            let mut opener = repo.opener();
            let mut blobs = blobs.clone();
            blobs.sort_by_key(|(_, l)| l.offset);
            for (id, loc) in &blobs {
                let (s, e) = (loc.offset as usize, loc.offset as usize + loc.length as usize);
                let raw = repo.open_located_with(&mut opener, id, loc, bytes.get(s..e).unwrap_or_default())?;
                copy(&mut writer, loc.kind, *id, &raw)?;
            }
            repo.progress().advance(0, 1);
        }
        Ok(())
    })();
    if let Err(e) = copied {
        return Err(writer.abort().unwrap_or(e));
    }
    Ok((writer.finish()?.packs, vanished))
}

//! `check`: structural verification of the whole repository and, with
//! `read_data`, a full re-read of every blob (unseal, decompress, re-hash) in
//! parallel. Problems are reported by object name with the snapshots they
//! affect; nothing is ever written.

use crate::error::Result;
use crate::format::*;
use crate::id::Id;
use crate::index::MasterIndex;
use crate::pack::{open_blob, pack_key, parse_trailer};
use crate::repo::Repository;
use crate::tree::NodeKind;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    pub snapshots: usize,
    pub index_files: usize,
    pub packs: usize,
    pub blobs_read: usize,
    /// One line per problem, naming the object and the snapshots affected.
    pub errors: Vec<String>,
    /// Harmless findings (e.g. packs left by an interrupted backup).
    pub notes: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Why a pack or blob is bad, by id.
type Damage = BTreeMap<Id, String>;

/// Run every phase; damage is reported, never repaired.
pub fn check(repo: &Repository, read_data: bool) -> Result<CheckReport> {
    let mut rep = CheckReport::default();
    // Dictionaries loaded at open are fine; this lists the damaged ones.
    rep.errors.extend(crate::dict::load_all(repo)?);
    let index = read_indexes(repo, &mut rep)?;
    let mut bad_packs = check_packs(repo, &index, &mut rep)?;
    let mut bad_blobs = Damage::new();
    if read_data {
        read_all_data(repo, &index, &mut bad_packs, &mut bad_blobs, &mut rep);
    }
    // Every blob in a bad pack is bad.
    for (pack, blobs) in group_by_pack(&index) {
        if let Some(why) = bad_packs.get(&pack) {
            for b in blobs {
                bad_blobs.entry(b.0).or_insert_with(|| format!("in pack {} which is {why}", pack_key(&pack)));
            }
        }
    }
    check_snapshots(repo, &index, &bad_blobs, &mut rep)?;
    for (pack, why) in &bad_packs {
        rep.errors.push(format!("pack {}: {why}", pack_key(pack)));
    }
    Ok(rep)
}

/// Phase 1: every index file is readable; the index is built from the good ones.
fn read_indexes(repo: &Repository, rep: &mut CheckReport) -> Result<MasterIndex> {
    let mut index = MasterIndex::new();
    let keys = repo.index_keys()?;
    rep.index_files = keys.len();
    for k in &keys {
        match repo.read_index_file(k) {
            Ok(f) => index.add(&f),
            Err(e) => rep.errors.push(format!("index {k}: unreadable: {e}")),
        }
    }
    index.finalize();
    Ok(index)
}

/// Phase 2: every pack the index names exists and is long enough.
fn check_packs(repo: &Repository, index: &MasterIndex, rep: &mut CheckReport) -> Result<Damage> {
    let listed: HashMap<Id, u64> = repo.pack_sizes()?;
    rep.packs = listed.len();
    let mut pack_end: HashMap<Id, u64> = HashMap::new();
    for (_, loc) in index.iter() {
        let e = pack_end.entry(loc.pack).or_default();
        *e = (*e).max(loc.offset as u64 + loc.length as u64);
    }
    let mut bad = Damage::new();
    for (pack, end) in &pack_end {
        match listed.get(pack) {
            None => {
                bad.insert(*pack, "missing".into());
            }
            Some(size) if *size < end + PACK_FOOTER_LEN as u64 => {
                bad.insert(*pack, format!("truncated ({size} bytes, index needs more than {end})"));
            }
            _ => {}
        }
    }
    let orphans = listed.keys().filter(|p| !pack_end.contains_key(p)).count();
    if orphans > 0 {
        rep.notes
            .push(format!("{orphans} pack(s) are not indexed (left by an interrupted backup); prune removes them"));
    }
    Ok(bad)
}

/// Phase 3 (`--read-data`): re-read every pack and re-hash every blob, in parallel.
fn read_all_data(
    repo: &Repository,
    index: &MasterIndex,
    bad_packs: &mut Damage,
    bad_blobs: &mut Damage,
    rep: &mut CheckReport,
) {
    let by_pack = group_by_pack(index);
    let results: Vec<PackResult> = by_pack
        .par_iter()
        .filter(|(p, _)| !bad_packs.contains_key(*p))
        .map(|(pack, blobs)| read_pack(repo, pack, blobs))
        .collect();
    for r in results {
        rep.blobs_read += r.blobs_read;
        if let Some(e) = r.pack_error {
            bad_packs.insert(r.pack, e);
        }
        for (b, e) in r.blob_errors {
            bad_blobs.insert(b, format!("in pack {}: {e}", pack_key(&r.pack)));
        }
    }
}

/// Phase 4: every snapshot's trees and chunks are indexed and intact; each
/// problem is reported once with every snapshot it affects.
fn check_snapshots(repo: &Repository, index: &MasterIndex, bad_blobs: &Damage, rep: &mut CheckReport) -> Result<()> {
    let snaps = repo.snapshot_ids()?;
    rep.snapshots = snaps.len();
    let mut by_problem: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for sid in &snaps {
        match repo.load_snapshot(sid) {
            Ok(snap) => {
                for p in snapshot_problems(repo, index, bad_blobs, &snap.tree) {
                    by_problem.entry(p).or_default().push(sid.short());
                }
            }
            Err(e) => rep.errors.push(format!("snapshot {sid}: unreadable: {e}")),
        }
    }
    for (p, sids) in by_problem {
        rep.errors.push(format!("{p} (affects snapshot {})", sids.join(", ")));
    }
    Ok(())
}

fn snapshot_problems(repo: &Repository, index: &MasterIndex, bad_blobs: &Damage, root: &[Id]) -> Vec<String> {
    let problem = |id: &Id, what: &str| -> Option<String> {
        if let Some(why) = bad_blobs.get(id) {
            Some(format!("{what} blob {id} damaged {why}"))
        } else if !index.contains(id) {
            Some(format!("{what} blob {id} is not in any index"))
        } else {
            None
        }
    };
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<Id> = root.to_vec();
    while let Some(t) = stack.pop() {
        if !seen.insert(t) {
            continue;
        }
        if let Some(p) = problem(&t, "tree") {
            problems.push(p);
            continue;
        }
        let tree = match repo.read_tree_blob_with(index, &t) {
            Ok(tr) => tr,
            Err(e) => {
                problems.push(format!("tree blob {t}: {e}"));
                continue;
            }
        };
        for n in tree.nodes {
            match n.kind {
                NodeKind::Dir => stack.extend(n.subtree),
                NodeKind::File => {
                    for c in n.content {
                        if seen.insert(c) {
                            problems.extend(problem(&c, "data"));
                        }
                    }
                }
                NodeKind::Symlink => {}
                NodeKind::Sqlite => problems.extend(sqlite_problems(repo, index, &n, &mut seen, &problem)),
            }
        }
    }
    problems
}

type PackBlobs = Vec<(Id, u32, u32, u8)>;

fn group_by_pack(index: &MasterIndex) -> BTreeMap<Id, PackBlobs> {
    let mut m: BTreeMap<Id, PackBlobs> = BTreeMap::new();
    for (id, loc) in index.iter() {
        m.entry(loc.pack).or_default().push((id, loc.offset, loc.length, loc.kind as u8));
    }
    m
}

struct PackResult {
    pack: Id,
    blob_errors: Vec<(Id, String)>,
    pack_error: Option<String>,
    blobs_read: usize,
}

/// Read a whole pack: its trailer must parse and every indexed blob must
/// unseal and hash to its id.
fn read_pack(repo: &Repository, pack: &Id, blobs: &PackBlobs) -> PackResult {
    let key = pack_key(pack);
    let bytes = match repo.backend().get(&key) {
        Ok(b) => b,
        Err(e) => {
            return PackResult {
                pack: *pack,
                blob_errors: vec![],
                pack_error: Some(format!("unreadable: {e}")),
                blobs_read: 0,
            }
        }
    };
    let mut pack_err = None;
    if Id::hash(&bytes) != *pack {
        pack_err = Some("altered (its BLAKE3 no longer matches its name)".to_string());
    }
    if let Err(e) = parse_trailer(&bytes, repo.sealer()) {
        pack_err = Some(format!("trailer unreadable: {e}"));
    }
    let mut errs = Vec::new();
    for (id, off, len, kind) in blobs {
        let (s, e) = (*off as usize, *off as usize + *len as usize);
        let entry = crate::pack::BlobEntry { id: *id, kind: *kind, offset: *off, length: *len, raw_length: 0 };
        let r = if e > bytes.len() {
            Err("beyond the end of the pack".to_string())
        } else {
            open_blob(&entry, &bytes[s..e], repo.sealer()).map(|_| ()).map_err(|e| e.to_string())
        };
        if let Err(e) = r {
            errs.push((*id, e));
        }
    }
    PackResult { pack: *pack, blob_errors: errs, pack_error: pack_err, blobs_read: blobs.len() }
}

/// A SQLite node's manifest, page lists and pages: each indexed and intact.
fn sqlite_problems(
    repo: &Repository,
    index: &MasterIndex,
    n: &crate::tree::Node,
    seen: &mut HashSet<Id>,
    problem: &dyn Fn(&Id, &str) -> Option<String>,
) -> Vec<String> {
    let Some(manifest) = n.content.first() else { return vec!["sqlite node without a manifest".into()] };
    let mut problems = Vec::new();
    let mut read = |id: &Id| -> Result<Vec<u8>> {
        if let Some(p) = problem(id, "sqlite metadata") {
            return Err(crate::Error::InvalidArgument(p));
        }
        repo.read_blob_with(index, id)
    };
    let visited = crate::sqlite::manifest::visit(&mut read, manifest, &mut |p, is_page| {
        if is_page && seen.insert(*p) {
            problems.extend(problem(p, "page"));
        }
        Ok(())
    });
    if let Err(e) = visited {
        problems.push(format!("database {}: {e}", String::from_utf8_lossy(&n.name)));
    }
    problems
}

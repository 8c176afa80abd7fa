//! `check`: structural verification of the whole repository and, with
//! `read_data`, a full re-read of every blob (unseal, decompress, re-hash) in
//! parallel. Problems are reported by object name with the snapshots they
//! affect; nothing is ever written.

use crate::error::Result;
use crate::format::*;
use crate::id::Id;
use crate::index::MasterIndex;
use crate::pack::{open_blob, pack_id_from_key, pack_key, parse_trailer};
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

pub fn check(repo: &Repository, read_data: bool) -> Result<CheckReport> {
    let mut rep = CheckReport::default();
    // Phase 1: every index file readable; build the index from the good ones.
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

    // Phase 2: packs named by the index exist and are long enough.
    let listed: HashMap<Id, u64> = repo
        .backend()
        .list(PREFIX_DATA)?
        .into_iter()
        .filter_map(|o| pack_id_from_key(&o.key).map(|id| (id, o.size)))
        .collect();
    rep.packs = listed.len();
    let mut pack_end: HashMap<Id, u64> = HashMap::new();
    for (_, loc) in index.iter() {
        let e = pack_end.entry(loc.pack).or_default();
        *e = (*e).max(loc.offset as u64 + loc.length as u64);
    }
    let mut bad_packs: BTreeMap<Id, String> = BTreeMap::new();
    for (pack, end) in &pack_end {
        match listed.get(pack) {
            None => {
                bad_packs.insert(*pack, "missing".into());
            }
            Some(size) if *size < end + PACK_FOOTER_LEN as u64 => {
                bad_packs.insert(*pack, format!("truncated ({size} bytes, index needs more than {end})"));
            }
            _ => {}
        }
    }
    let orphans = listed.keys().filter(|p| !pack_end.contains_key(p)).count();
    if orphans > 0 {
        rep.notes.push(format!("{orphans} pack(s) are not indexed (left by an interrupted backup); prune removes them"));
    }

    // Phase 3: with --read-data, re-read every pack and every blob.
    let mut bad_blobs: BTreeMap<Id, String> = BTreeMap::new();
    if read_data {
        let by_pack = group_by_pack(&index);
        let results: Vec<(Id, Vec<(Id, String)>, Option<String>, usize)> = by_pack
            .par_iter()
            .filter(|(p, _)| !bad_packs.contains_key(*p))
            .map(|(pack, blobs)| read_pack(repo, pack, blobs))
            .collect();
        for (pack, blob_errs, pack_err, n) in results {
            rep.blobs_read += n;
            if let Some(e) = pack_err {
                bad_packs.insert(pack, e);
            }
            for (b, e) in blob_errs {
                bad_blobs.insert(b, format!("in pack {}: {e}", pack_key(&pack)));
            }
        }
    }
    for (pack, blobs) in group_by_pack(&index) {
        if let Some(why) = bad_packs.get(&pack) {
            for b in blobs {
                bad_blobs.entry(b.0).or_insert_with(|| format!("in pack {} which is {why}", pack_key(&pack)));
            }
        }
    }

    // Phase 4: every snapshot's trees and chunks are indexed and intact.
    let snaps = repo.snapshot_ids()?;
    rep.snapshots = snaps.len();
    let mut affected: BTreeMap<Id, Vec<String>> = BTreeMap::new();
    let blob_problem = |id: &Id, what: &str| -> Option<String> {
        if let Some(why) = bad_blobs.get(id) {
            Some(format!("{what} blob {id} damaged {why}"))
        } else if !index.contains(id) {
            Some(format!("{what} blob {id} is not in any index"))
        } else {
            None
        }
    };
    for sid in &snaps {
        let snap = match repo.load_snapshot(sid) {
            Ok(s) => s,
            Err(e) => {
                rep.errors.push(format!("snapshot {sid}: unreadable: {e}"));
                continue;
            }
        };
        let mut problems: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<Id> = snap.tree.clone();
        while let Some(t) = stack.pop() {
            if !seen.insert(t) {
                continue;
            }
            if let Some(p) = blob_problem(&t, "tree") {
                problems.push(p);
                continue;
            }
            let tree = match repo.read_tree_blob_with(&index, &t) {
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
                                if let Some(p) = blob_problem(&c, "data") {
                                    problems.push(p);
                                }
                            }
                        }
                    }
                    NodeKind::Symlink => {}
                }
            }
        }
        for p in problems {
            affected.entry(*sid).or_default().push(p);
        }
    }
    // Report each problem once, with every snapshot it affects.
    let mut by_problem: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (sid, probs) in affected {
        for p in probs {
            by_problem.entry(p).or_default().push(sid.short());
        }
    }
    for (p, sids) in by_problem {
        rep.errors.push(format!("{p} (affects snapshot {})", sids.join(", ")));
    }
    for (pack, why) in &bad_packs {
        rep.errors.push(format!("pack {}: {why}", pack_key(pack)));
    }
    Ok(rep)
}

type PackBlobs = Vec<(Id, u32, u32, u8)>;

fn group_by_pack(index: &MasterIndex) -> BTreeMap<Id, PackBlobs> {
    let mut m: BTreeMap<Id, PackBlobs> = BTreeMap::new();
    for (id, loc) in index.iter() {
        m.entry(loc.pack).or_default().push((id, loc.offset, loc.length, loc.kind as u8));
    }
    m
}

/// Read a whole pack: its trailer must parse and every indexed blob must
/// unseal and hash to its id.
fn read_pack(repo: &Repository, pack: &Id, blobs: &PackBlobs) -> (Id, Vec<(Id, String)>, Option<String>, usize) {
    let key = pack_key(pack);
    let bytes = match repo.backend().get(&key) {
        Ok(b) => b,
        Err(e) => return (*pack, vec![], Some(format!("unreadable: {e}")), 0),
    };
    let mut pack_err = None;
    if Id::hash(&bytes) != *pack {
        pack_err = Some("altered (its BLAKE3 no longer matches its name)".to_string());
    }
    if let Err(e) = parse_trailer(&bytes) {
        pack_err = Some(format!("trailer unreadable: {e}"));
    }
    let mut errs = Vec::new();
    for (id, off, len, kind) in blobs {
        let (s, e) = (*off as usize, *off as usize + *len as usize);
        let entry = crate::pack::BlobEntry { id: *id, kind: *kind, offset: *off, length: *len, raw_length: 0 };
        let r = if e > bytes.len() { Err("beyond the end of the pack".to_string()) } else { open_blob(&entry, &bytes[s..e]).map(|_| ()).map_err(|e| e.to_string()) };
        if let Err(e) = r {
            errs.push((*id, e));
        }
    }
    (*pack, errs, pack_err, blobs.len())
}

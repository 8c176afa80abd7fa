//! `check`'s pack phase: every pack the index names exists and is long
//! enough for its blobs; with `--read-data`, every pack is read whole, its
//! hash compared with its name, its trailer parsed and every indexed blob
//! opened and re-hashed, in parallel.

use super::{Bad, CheckReport};
use crate::error::Result;
use crate::format::id::Id;
use crate::format::{ObjectKind, PACK_FOOTER_LEN};
use crate::pack::index::{Location, MasterIndex};
use crate::pack::{pack_key, parse_trailer};
use crate::progress::{Started, Totals};
use crate::repo::Repository;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

pub(super) struct Found {
    /// Pack → (why, serious). Missing or truncated packs are serious only
    /// if a snapshot uses one of their blobs (decided when reporting).
    pub bad_packs: BTreeMap<Id, (String, bool)>,
    pub bad_blobs: BTreeMap<Id, Bad>,
    pub unindexed_packs: usize,
}

fn lost(kind: ObjectKind, pack: &Id, why: &str) -> Bad {
    Bad { kind, pack: Some(*pack), why: why.into(), own: false, used_by: BTreeMap::new() }
}

pub(super) fn check_packs(
    repo: &Repository,
    index: &MasterIndex,
    read: super::ReadData,
    rep: &mut CheckReport,
) -> Result<Found> {
    let listed: HashMap<Id, u64> = repo.pack_sizes()?;
    rep.packs = listed.len();
    let mut by_pack: BTreeMap<Id, Vec<(Id, Location)>> = BTreeMap::new();
    for (id, loc) in index.iter() {
        by_pack.entry(loc.pack).or_default().push((id, loc));
    }
    // In pack order, so a frame's members come in a row (opened once).
    by_pack.values_mut().for_each(|b| b.sort_by_key(|(_, l)| l.offset));
    let mut f = Found { bad_packs: BTreeMap::new(), bad_blobs: BTreeMap::new(), unindexed_packs: 0 };
    f.unindexed_packs = listed.keys().filter(|p| !by_pack.contains_key(*p)).count();
    for (pack, blobs) in &by_pack {
        let Some(&size) = listed.get(pack) else {
            f.bad_packs.insert(*pack, ("missing".into(), false));
            for (id, loc) in blobs {
                f.bad_blobs.insert(*id, lost(loc.kind, pack, "its pack is missing"));
            }
            continue;
        };
        let body = size.saturating_sub(PACK_FOOTER_LEN as u64);
        let beyond: Vec<&(Id, Location)> =
            blobs.iter().filter(|(_, l)| l.offset as u64 + l.length as u64 > body).collect();
        if !beyond.is_empty() {
            f.bad_packs.insert(*pack, (format!("truncated ({size} bytes; the index needs more)"), false));
            for (id, loc) in beyond {
                f.bad_blobs.insert(*id, lost(loc.kind, pack, "beyond the end of its truncated pack"));
            }
        }
    }
    if read != super::ReadData::None {
        let chosen: Vec<(&Id, &Vec<(Id, Location)>)> = by_pack
            .iter()
            .filter(|(p, _)| listed.contains_key(*p) && !f.bad_packs.contains_key(*p) && read.selects(p))
            .collect();
        rep.packs_read = chosen.len();
        let bytes = chosen.iter().map(|(p, _)| listed[*p]).sum();
        let _shown =
            Started::new(repo.progress(), "check", Totals { bytes: Some(bytes), items: Some(chosen.len() as u64) });
        let results: Vec<PackResult> = chosen
            .into_par_iter()
            .map(|(pack, blobs)| {
                repo.progress().item(&pack.short());
                let r = read_pack(repo, pack, blobs);
                repo.progress().advance(listed[pack], 1);
                r
            })
            .collect();
        for r in results {
            rep.blobs_read += r.blobs_read;
            if let Some(e) = r.pack_error {
                f.bad_packs.insert(r.pack, (e, true));
            }
            for (id, kind, why) in r.blob_errors {
                f.bad_blobs.insert(id, Bad { kind, pack: Some(r.pack), why, own: true, used_by: BTreeMap::new() });
            }
        }
    }
    Ok(f)
}

struct PackResult {
    pack: Id,
    blob_errors: Vec<(Id, ObjectKind, String)>,
    pack_error: Option<String>,
    blobs_read: usize,
}

/// Read a whole pack: its name must be its hash, its trailer must parse,
/// and every indexed blob must unseal and hash to its id.
fn read_pack(repo: &Repository, pack: &Id, blobs: &[(Id, Location)]) -> PackResult {
    let mut r = PackResult { pack: *pack, blob_errors: vec![], pack_error: None, blobs_read: 0 };
    let bytes = match repo.backend().get(&pack_key(pack)) {
        Ok(b) => b,
        Err(e) => {
            r.pack_error = Some(format!("unreadable: {e}"));
            return r;
        }
    };
    let mut problems = Vec::new();
    if Id::hash(&bytes) != *pack {
        problems.push("altered (its BLAKE3 no longer matches its name)".to_string());
    }
    if let Err(e) = parse_trailer(&bytes, repo.sealer()) {
        problems.push(format!("trailer unreadable: {e}"));
    }
    if !problems.is_empty() {
        r.pack_error = Some(problems.join("; "));
    }
    let mut opener = repo.opener();
    for (id, loc) in blobs {
        let entry = loc.entry(*id);
        let sealed = bytes.get(loc.offset as usize..loc.offset as usize + loc.length as usize);
        let res = match sealed {
            None => Err("beyond the end of the pack".to_string()),
            Some(s) => opener.open(&entry, s).map(|_| ()).map_err(|e| e.to_string()),
        };
        if let Err(e) = res {
            r.blob_errors.push((*id, loc.kind, e));
        }
        r.blobs_read += 1;
    }
    r
}

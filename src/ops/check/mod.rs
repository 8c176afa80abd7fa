//! `check`: structural verification of the whole repository and, with
//! `read_data`, a full re-read of every pack (unseal, decompress, re-hash)
//! in parallel. Nothing is ever written.
//!
//! Damage is named exactly: a pack that is missing, truncated or altered is
//! one line; a blob is listed only if it itself cannot be read (its bytes
//! fail authentication or their hash, it lies beyond the end of a truncated
//! pack, its pack is gone, or no index lists it), with every snapshot and
//! path (file, directory, database page) that uses it.

mod packs;

use crate::error::Result;
use crate::format::id::Id;
use crate::format::{ObjectKind, PREFIX_DICTIONARIES, PREFIX_KEYS};
use crate::pack::index::MasterIndex;
use crate::pack::pack_key;
use crate::progress::{Started, Totals};
use crate::repo::Repository;
use crate::source::reach::{describe, Reached, Visitor};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Which packs `check` reads whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadData {
    /// None: structure only.
    None,
    All,
    /// Slice `n` (1-based) of `m`: the packs whose id, as a number, is
    /// `n - 1` modulo `m`. A pack stays in its slice as others are added,
    /// and slices 1..=m together read every pack exactly once.
    Slice {
        n: u64,
        m: u64,
    },
    /// About this percentage of the packs, chosen at random.
    Percent(f64),
}

impl ReadData {
    /// Whether `pack` is read.
    pub fn selects(&self, pack: &Id) -> bool {
        match *self {
            ReadData::None => false,
            ReadData::All => true,
            ReadData::Slice { n, m } => u64::from_le_bytes(pack.0[..8].try_into().expect("8 bytes")) % m == n - 1,
            ReadData::Percent(p) => {
                let mut b = [0u8; 8];
                crate::format::id::random_bytes(&mut b);
                (u64::from_le_bytes(b) as f64 / u64::MAX as f64) * 100.0 < p
            }
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub snapshots: usize,
    pub index_files: usize,
    pub packs: usize,
    /// Packs read whole (all of them with `--read-data`, a subset's).
    pub packs_read: usize,
    pub blobs_read: usize,
    /// One line per problem, naming the object and the snapshots affected.
    pub errors: Vec<String>,
    /// Harmless findings (e.g. packs left by an interrupted backup).
    pub notes: Vec<String>,
    pub damaged_packs: Vec<DamagedPack>,
    pub damaged_blobs: Vec<DamagedBlob>,
    /// With `--quarantine`: where the damaged packs were moved.
    pub quarantined: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DamagedPack {
    pub pack: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DamagedBlob {
    pub id: String,
    pub kind: &'static str,
    /// The pack the index places it in, if any.
    pub pack: Option<String>,
    pub why: String,
    pub used_by: Vec<Use>,
}

/// Where one snapshot uses a damaged blob.
#[derive(Debug, Clone, Serialize)]
pub struct Use {
    pub snapshot: String,
    pub paths: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A blob that cannot be read, and who uses it.
struct Bad {
    kind: ObjectKind,
    pack: Option<Id>,
    why: String,
    /// Its own bytes are damaged (found by reading it), as opposed to lost
    /// with its pack, which the pack's own line reports.
    own: bool,
    used_by: BTreeMap<String, Vec<String>>,
}

/// Run every phase; damage is reported, never repaired.
pub fn check(repo: &Repository, read_data: bool) -> Result<CheckReport> {
    check_with(repo, if read_data { ReadData::All } else { ReadData::None })
}

/// `check`, reading the packs `read` selects.
pub fn check_with(repo: &Repository, read: ReadData) -> Result<CheckReport> {
    let mut rep = CheckReport::default();
    check_keys(repo, &mut rep)?;
    // Dictionaries loaded at open are fine; this lists the damaged ones.
    rep.errors.extend(crate::repo::dicts::load_all(repo)?);
    let dictionaries: HashSet<Id> = repo
        .backend()
        .list(PREFIX_DICTIONARIES)?
        .iter()
        .filter_map(|o| o.key.strip_prefix(PREFIX_DICTIONARIES).and_then(Id::parse))
        .collect();
    let load = repo.read_index()?;
    rep.index_files = load.keys.len() + load.problems.len();
    rep.errors.extend(load.problems.iter().map(|p| format!("{p}: run `cairn repair index`")));
    let index = load.index;
    let mut found = packs::check_packs(repo, &index, read, &mut rep)?;
    check_snapshots(repo, &index, &dictionaries, &mut found.bad_blobs, &mut rep)?;
    report(found, &mut rep);
    Ok(rep)
}

/// Every key file parses (only one of them needs to unlock the repository,
/// so a damaged one would go unnoticed until its password is the only one left).
fn check_keys(repo: &Repository, rep: &mut CheckReport) -> Result<()> {
    for o in repo.backend().list(PREFIX_KEYS)? {
        let parsed = repo
            .backend()
            .get(&o.key)
            .map_err(|e| e.to_string())
            .and_then(|b| crate::seal::keyfile::KeyFile::parse(&b).map(|_| ()).map_err(|e| e.to_string()));
        if let Err(e) = parsed {
            rep.errors.push(format!("key file {} is damaged: {e}; its password no longer opens the repository", o.key));
        }
    }
    Ok(())
}

/// Walk every snapshot; note each use of a bad, unindexed or otherwise
/// unreadable blob and each missing dictionary.
fn check_snapshots(
    repo: &Repository,
    index: &MasterIndex,
    dictionaries: &HashSet<Id>,
    bad: &mut BTreeMap<Id, Bad>,
    rep: &mut CheckReport,
) -> Result<()> {
    let snaps = repo.snapshot_ids()?;
    rep.snapshots = snaps.len();
    let _shown = Started::new(repo.progress(), "check", Totals { bytes: None, items: Some(snaps.len() as u64) });
    let mut missing_dicts: BTreeMap<Id, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for sid in &snaps {
        let snap = match repo.load_snapshot(sid) {
            Ok(s) => s,
            Err(crate::Error::Backend(crate::backend::BackendError::NotFound { .. })) => continue,
            Err(e) => {
                rep.errors.push(format!("snapshot {sid}: unreadable: {e}"));
                continue;
            }
        };
        let mut v = SnapshotCheck {
            index,
            dictionaries,
            bad: &mut *bad,
            missing_dicts: &mut missing_dicts,
            seen: HashSet::new(),
            short: sid.short(),
        };
        repo.progress().item(&format!("snapshot {}", sid.short()));
        crate::source::reach::walk(&mut |id| repo.read_blob_with(index, id), &snap.tree, &mut v)?;
        repo.progress().advance(0, 1);
    }
    for (d, uses) in missing_dicts {
        rep.errors.push(format!(
            "dictionary {PREFIX_DICTIONARIES}{d} is missing; the pages compressed with it cannot be read{}",
            used_by(&uses)
        ));
    }
    Ok(())
}

/// Looks up every blob one snapshot reaches.
struct SnapshotCheck<'a> {
    index: &'a MasterIndex,
    dictionaries: &'a HashSet<Id>,
    bad: &'a mut BTreeMap<Id, Bad>,
    missing_dicts: &'a mut BTreeMap<Id, BTreeMap<String, Vec<String>>>,
    seen: HashSet<Id>,
    short: String,
}

impl SnapshotCheck<'_> {
    /// Note that this snapshot uses a bad blob at `at` (first reason wins).
    fn use_of(&mut self, id: &Id, kind: ObjectKind, why: Option<String>, at: String) {
        let b = self.bad.entry(*id).or_insert_with(|| Bad {
            kind,
            pack: self.index.lookup(id).map(|l| l.pack),
            why: why.unwrap_or_else(|| "not in any index".into()),
            own: true,
            used_by: BTreeMap::new(),
        });
        b.used_by.entry(self.short.clone()).or_default().push(at);
    }
}

impl Visitor for SnapshotCheck<'_> {
    fn blob(&mut self, r: Reached) -> Result<bool> {
        if r.kind == ObjectKind::Dictionary {
            if !self.dictionaries.contains(r.id) {
                let uses = self.missing_dicts.entry(*r.id).or_default();
                uses.entry(self.short.clone()).or_default().push(describe(r.path, None));
            }
            return Ok(false);
        }
        if self.bad.contains_key(r.id) || !self.index.contains(r.id) {
            self.use_of(r.id, r.kind, None, describe(r.path, r.page));
            return Ok(false);
        }
        Ok(self.seen.insert(*r.id))
    }

    fn failed(&mut self, id: &Id, path: &Path, e: crate::Error) -> Result<()> {
        let kind = self.index.lookup(id).map(|l| l.kind).unwrap_or(ObjectKind::Tree);
        self.use_of(id, kind, Some(e.to_string()), describe(path, None));
        Ok(())
    }
}

/// "; used by snapshot a (p, q), snapshot b (r)", at most 3 paths each.
fn used_by(uses: &BTreeMap<String, Vec<String>>) -> String {
    if uses.is_empty() {
        return "; no snapshot uses it".into();
    }
    let each: Vec<String> = uses
        .iter()
        .map(|(s, paths)| {
            let more = if paths.len() > 3 { format!(" and {} more", paths.len() - 3) } else { String::new() };
            format!("snapshot {s} ({}{more})", paths.iter().take(3).cloned().collect::<Vec<_>>().join(", "))
        })
        .collect();
    format!("; used by {}", each.join(", "))
}

/// Turn what was found into lines: every damaged pack once, then every
/// blob that is itself unreadable and either used or read and failed.
fn report(found: packs::Found, rep: &mut CheckReport) {
    for (pack, (why, serious)) in &found.bad_packs {
        let holds_used = found.bad_blobs.values().any(|b| b.pack == Some(*pack) && !b.used_by.is_empty());
        if *serious || holds_used {
            rep.errors.push(format!("pack {}: {why}", pack_key(pack)));
            rep.damaged_packs.push(DamagedPack { pack: pack_key(pack), why: why.clone() });
        } else {
            rep.notes.push(format!(
                "pack {}: {why}; no snapshot uses its blobs (`cairn repair index` or prune drops it from the index)",
                pack_key(pack)
            ));
        }
    }
    for (id, b) in &found.bad_blobs {
        if b.used_by.is_empty() && !b.own {
            continue; // covered by its pack's line
        }
        let in_pack = b.pack.map(|p| format!(" in pack {}", pack_key(&p))).unwrap_or_default();
        rep.errors.push(format!("{} blob {id}{in_pack}: {}{}", b.kind.name(), b.why, used_by(&b.used_by)));
        rep.damaged_blobs.push(DamagedBlob {
            id: id.to_hex(),
            kind: b.kind.name(),
            pack: b.pack.map(|p| pack_key(&p)),
            why: b.why.clone(),
            used_by: b.used_by.iter().map(|(s, p)| Use { snapshot: s.clone(), paths: p.clone() }).collect(),
        });
    }
    if found.unindexed_packs > 0 {
        rep.notes.push(format!(
            "{} pack(s) are not indexed: left by an interrupted or running backup, or their index file was lost (`cairn repair index` indexes them; prune removes them once unreferenced)",
            found.unindexed_packs
        ));
    }
}

/// Move every damaged pack `rep` names that is still there to
/// `quarantine/<id>`: copied there first, then removed from `data/`, so its
/// bytes are kept for inspection and no command reads them again. Returns
/// the new keys.
pub fn quarantine(repo: &Repository, rep: &CheckReport) -> Result<Vec<String>> {
    let mut keys: std::collections::BTreeSet<String> = rep.damaged_packs.iter().map(|p| p.pack.clone()).collect();
    keys.extend(rep.damaged_blobs.iter().filter_map(|b| b.pack.clone()));
    let mut moved = Vec::new();
    for key in keys {
        let bytes = match repo.backend().get(&key) {
            Ok(b) => b,
            Err(crate::backend::BackendError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let name = key.rsplit('/').next().unwrap_or(&key);
        let to = format!("{}{name}", crate::format::PREFIX_QUARANTINE);
        repo.backend().put(&to, &bytes)?;
        repo.backend().delete(&key)?;
        moved.push(to);
    }
    Ok(moved)
}

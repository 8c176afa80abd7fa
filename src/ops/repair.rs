//! `repair index`: rebuild the index from the packs, which describe
//! themselves (format-spec/README.md, invariant 5).
//!
//! 1. Read the index files that still open (their keys are what step 6
//!    retires; damaged ones are retired too: what they said is re-derived).
//! 2. List the packs.
//! 3. For each pack: keep the entries a readable index file gives it, or
//!    read its trailer (two range reads) when none does. With
//!    `read_all_packs`, read every pack whole instead: its hash, its
//!    trailer, and every blob opened and checked against its id; a blob that
//!    fails is left out of the new index (so the next backup that still has
//!    that data stores it again) and reported with its pack.
//! 4. A pack found altered has its good blobs copied into new packs
//!    (verified on the way, like prune's repack) and is itself left out of
//!    the index, so a later prune removes it as unreferenced.
//! 5. Packs the old index names that no longer exist are left out.
//! 6. Write the new index files (durable), then delete the old ones.
//!
//! A crash at any point leaves the old files, or old and new files side by
//! side (duplicates, which readers merge), plus perhaps unindexed copies:
//! nothing is lost, and running the repair again finishes it. Packs are
//! never modified or deleted here.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::PACK_FOOTER_LEN;
use crate::pack::index::{IndexPack, MasterIndex};
use crate::pack::{decode_trailer, pack_key, parse_trailer, trailer_span, validate_entries, BlobEntry};
use crate::repo::Repository;
use rayon::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct RepairOptions {
    /// Read and verify every pack, not only those no index file lists.
    pub read_all_packs: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RepairReport {
    pub packs: usize,
    /// Packs whose trailer or whole content was read.
    pub packs_read: usize,
    pub blobs_indexed: u64,
    /// Packs the old index named that do not exist.
    pub packs_missing: usize,
    pub index_files_written: usize,
    pub index_files_removed: usize,
    /// Altered packs whose good blobs were copied into new packs.
    pub packs_salvaged: usize,
    pub blobs_salvaged: u64,
    /// Damaged index files replaced by the new index.
    pub notes: Vec<String>,
    /// Packs that could not be read or indexed, and blobs left out as damaged.
    pub problems: Vec<String>,
}

/// What one pack contributes to the new index.
struct Rebuilt {
    pack: Option<IndexPack>,
    read: bool,
    /// Its bytes no longer hash to its name: salvage its good blobs.
    altered: bool,
    problems: Vec<String>,
}

impl Rebuilt {
    fn kept(pack: Id, blobs: Vec<BlobEntry>, read: bool) -> Self {
        Rebuilt { pack: Some(IndexPack { id: pack, blobs }), read, altered: false, problems: vec![] }
    }
}

/// The entries of each pack in `index`, in pack order.
fn entries_by_pack(index: &MasterIndex) -> HashMap<Id, Vec<BlobEntry>> {
    let mut m: HashMap<Id, Vec<BlobEntry>> = HashMap::new();
    for (id, loc) in index.iter() {
        m.entry(loc.pack).or_default().push(loc.entry(id));
    }
    for v in m.values_mut() {
        v.sort_by_key(|e| e.offset);
    }
    m
}

pub fn repair_index(repo: &Repository, opts: &RepairOptions) -> Result<RepairReport> {
    let load = repo.read_index()?;
    let mut rep = RepairReport { notes: load.problems.clone(), ..Default::default() };
    let sizes = repo.pack_sizes()?;
    rep.packs = sizes.len();
    let mut old = entries_by_pack(&load.index);
    rep.packs_missing = old.keys().filter(|p| !sizes.contains_key(*p)).count();
    let mut packs: Vec<(Id, u64)> = sizes.into_iter().collect();
    packs.sort();
    let rebuilt: Vec<Rebuilt> = packs
        .par_iter()
        .map(|(pack, size)| {
            let known = old.get(pack).filter(|e| validate_entries(e, Some(*size)).is_ok());
            if opts.read_all_packs {
                read_whole(repo, pack, known.map(Vec::as_slice))
            } else if let Some(e) = known {
                Rebuilt::kept(*pack, e.clone(), false)
            } else {
                match read_trailer(repo, pack, *size) {
                    Ok(blobs) => Rebuilt::kept(*pack, blobs, true),
                    Err(e) => Rebuilt {
                        pack: None,
                        read: true,
                        altered: false,
                        problems: vec![format!("pack {}: {e}; its blobs cannot be indexed", pack_key(pack))],
                    },
                }
            }
        })
        .collect();
    old.clear();
    drop(load.index);
    let mut new_packs = Vec::new();
    let mut salvage = Vec::new();
    for r in rebuilt {
        rep.packs_read += r.read as usize;
        rep.problems.extend(r.problems);
        match r.pack.filter(|p| !p.blobs.is_empty()) {
            Some(p) if r.altered => salvage.push(p),
            Some(p) => new_packs.push(p),
            None => {}
        }
    }
    rep.packs_salvaged = salvage.len();
    let copies = copy_blobs(repo, &salvage)?;
    rep.blobs_salvaged = copies.iter().map(|p| p.blobs.len() as u64).sum();
    new_packs.extend(copies);
    rep.blobs_indexed = new_packs.iter().map(|p| p.blobs.len() as u64).sum();
    crate::failpoint::hit("repair-before-index");
    let written = repo.save_index(new_packs)?;
    rep.index_files_written = written.len();
    crate::failpoint::hit("repair-after-index");
    // A new file can have the name of an old one (same entries, plaintext
    // repository: names are content hashes); it stays.
    for k in load.keys.iter().chain(&load.damaged_keys).filter(|k| !written.contains(k)) {
        crate::failpoint::hit("repair-retire-index");
        repo.backend().delete(k)?;
        rep.index_files_removed += 1;
    }
    Ok(rep)
}

/// Copy the verified blobs `packs` list into new packs (durable on return).
fn copy_blobs(repo: &Repository, packs: &[IndexPack]) -> Result<Vec<IndexPack>> {
    if packs.is_empty() {
        return Ok(vec![]);
    }
    let mut writer = crate::pipeline::write::BlobWriter::new(repo, crate::pipeline::write::Dedup::Nothing);
    let copied = (|| -> Result<()> {
        for p in packs {
            let bytes = repo.backend().get(&pack_key(&p.id))?;
            let mut opener = repo.opener();
            for e in &p.blobs {
                let sealed = bytes.get(e.offset as usize..e.offset as usize + e.length as usize).unwrap_or_default();
                let raw = opener.open(e, sealed).map_err(|err| Error::format(pack_key(&p.id), err))?;
                let kind = crate::format::ObjectKind::from_u8(e.kind).expect("validated blob kind");
                crate::ops::prune::copy(&mut writer, kind, e.id, &raw)?;
            }
        }
        Ok(())
    })();
    if let Err(e) = copied {
        return Err(writer.abort().unwrap_or(e));
    }
    Ok(writer.finish()?.packs)
}

/// A pack's trailer, read on its own: footer, then the sealed trailer.
fn read_trailer(repo: &Repository, pack: &Id, size: u64) -> Result<Vec<BlobEntry>> {
    let key = pack_key(pack);
    if size < PACK_FOOTER_LEN as u64 {
        return Err(Error::format(&key, crate::format::FormatError::Truncated { len: size as usize }));
    }
    let footer = repo.backend().get_range(&key, size - PACK_FOOTER_LEN as u64, PACK_FOOTER_LEN as u64)?;
    let (at, len) = trailer_span(&footer, size).map_err(|e| Error::format(&key, e))?;
    let sealed = repo.backend().get_range(&key, at, len)?;
    decode_trailer(&sealed, at, repo.sealer()).map_err(|e| Error::format(format!("trailer of {key}"), e))
}

/// Read a whole pack and keep exactly the blobs that open and match their
/// ids, listed by its trailer or, if that is damaged, by the old index.
fn read_whole(repo: &Repository, pack: &Id, known: Option<&[BlobEntry]>) -> Rebuilt {
    let key = pack_key(pack);
    let bytes = match repo.backend().get(&key) {
        Ok(b) => b,
        Err(e) => {
            let mut r = Rebuilt::kept(*pack, known.unwrap_or_default().to_vec(), true);
            r.problems.push(format!("pack {key}: unreadable: {e}"));
            return r;
        }
    };
    let mut problems = Vec::new();
    let altered = Id::hash(&bytes) != *pack;
    let listed = match (parse_trailer(&bytes, repo.sealer()), known) {
        (Ok(e), _) => e,
        (Err(e), Some(k)) => {
            problems.push(format!("pack {key}: trailer unreadable ({e}); using the old index's entries"));
            k.to_vec()
        }
        (Err(e), None) => {
            problems.push(format!(
                "pack {key}: trailer unreadable ({e}) and no index file lists it; its blobs cannot be indexed"
            ));
            return Rebuilt { pack: None, read: true, altered, problems };
        }
    };
    let mut good = Vec::with_capacity(listed.len());
    let mut opener = repo.opener();
    for e in listed {
        let sealed = bytes.get(e.offset as usize..e.offset as usize + e.length as usize).unwrap_or_default();
        match opener.open(&e, sealed) {
            Ok(_) => good.push(e),
            Err(err) => problems.push(format!("blob {} in pack {key}: {err}; left out of the index", e.id)),
        }
    }
    if altered {
        problems.push(format!(
            "pack {key}: altered (its BLAKE3 no longer matches its name); its {} good blobs are copied to new packs and it is left for prune",
            good.len()
        ));
    }
    Rebuilt { pack: Some(IndexPack { id: *pack, blobs: good }), read: true, altered, problems }
}

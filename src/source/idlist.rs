//! Id lists with patches (format 5): the ordered chunk ids of a database's
//! pages or of an HNSW file's element parts, stored so that a snapshot's
//! list cost follows what changed (format-spec/sqlite.md "List patches").
//!
//! Full lists are fixed groups of `PAGE_LIST_IDS` ids (an unchanged region
//! shares its list blob with earlier snapshots). Scattered changes touch
//! nearly every group, so a snapshot whose parent has lists stores only a
//! patch: one blob of `(index, id)` pairs for the positions that differ,
//! appended to the parent's patches. The lists are written in full again
//! once the patches would list more than `1 / PATCH_FRACTION` of the ids or
//! number `MAX_PATCHES`, which bounds both the patches a reader applies and
//! the superseded chunks the full lists keep alive.
//!
//! Readers: `resolve` (the ids in order, for restore) and `reach` (every
//! blob the lists keep, for the one walk).

use crate::error::{Error, FormatError, Result};
use crate::format::id::Id;
use crate::format::{ObjectKind, MAX_PATCHES, PAGE_LIST_IDS, PATCH_FRACTION};
use crate::pipeline::write::BlobWriter;
use crate::source::reach::Walk;
use crate::source::sqlite::manifest::{decode_page_list, encode_page_list, ids_in_list};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An ordered sequence of `count` ids: the full `lists` describe the first
/// `base` positions, then each patch in order overrides positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdLists {
    pub count: u64,
    pub base: u64,
    /// Page-list blobs (kind 8) of the base, `PAGE_LIST_IDS` ids each.
    pub lists: Vec<Id>,
    /// List-patch blobs (kind 15), oldest first.
    pub patches: Vec<Id>,
    /// Entries in all patches together.
    pub patched: u64,
}

impl IdLists {
    /// Lists without patches (what formats 3 and 4 store).
    pub fn full(count: u64, lists: Vec<Id>) -> Self {
        IdLists { count, base: count, lists, patches: vec![], patched: 0 }
    }

    /// The structural rules: ⌈base / PAGE_LIST_IDS⌉ lists, at most
    /// `MAX_PATCHES` patches, every position from `base` to `count` (if
    /// any) left to the patches, which then must exist.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.count > u32::MAX as u64 || self.base > u32::MAX as u64 {
            return Err(format!("{} ids (base {}) exceed 2^32", self.count, self.base));
        }
        let want = self.base.div_ceil(PAGE_LIST_IDS as u64);
        if self.lists.len() as u64 != want {
            return Err(format!("{} ids need {want} page lists, {} are named", self.base, self.lists.len()));
        }
        if self.patches.len() > MAX_PATCHES {
            return Err(format!("{} patches, at most {MAX_PATCHES}", self.patches.len()));
        }
        if self.count > self.base && self.patches.is_empty() {
            return Err(format!("ids {} to {} are in no list or patch", self.base, self.count));
        }
        Ok(())
    }
}

/// A patch blob: `(index u32 LE, id)` pairs, indexes strictly increasing.
pub fn encode_patch(entries: &[(u32, Id)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 36);
    for (i, id) in entries {
        out.extend_from_slice(&i.to_le_bytes());
        out.extend_from_slice(&id.0);
    }
    out
}

/// Decode a patch blob, checking its layout and order.
pub fn decode_patch(id: &Id, bytes: &[u8]) -> Result<Vec<(u32, Id)>> {
    let bad = |m: String| Error::format(format!("list patch {id}"), FormatError::Invalid(m));
    if bytes.is_empty() || !bytes.len().is_multiple_of(36) {
        return Err(bad(format!("{} bytes, not a whole number of 36-byte entries", bytes.len())));
    }
    let entries: Vec<(u32, Id)> = bytes
        .chunks_exact(36)
        .map(|c| (u32::from_le_bytes(c[..4].try_into().unwrap()), Id(c[4..].try_into().unwrap())))
        .collect();
    if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(bad("indexes are not strictly increasing".into()));
    }
    Ok(entries)
}

/// The ids in order. `read(id, kind)` returns a list or patch blob's
/// plaintext (checked against its id and indexed as `kind`).
pub fn resolve(l: &IdLists, read: &mut dyn FnMut(&Id, ObjectKind) -> Result<Vec<u8>>) -> Result<Vec<Id>> {
    l.validate().map_err(|e| Error::format("id lists", FormatError::Invalid(e)))?;
    let mut ids: Vec<Option<Id>> = Vec::with_capacity(l.count as usize);
    for (n, list) in l.lists.iter().enumerate() {
        let got = decode_page_list(list, &read(list, ObjectKind::PageList)?, ids_in_list(l.base, n))?;
        ids.extend(got.into_iter().map(Some));
    }
    ids.resize(l.count as usize, None);
    for p in &l.patches {
        for (i, id) in decode_patch(p, &read(p, ObjectKind::ListPatch)?)? {
            if let Some(slot) = ids.get_mut(i as usize) {
                *slot = Some(id);
            }
        }
    }
    let missing = ids.iter().position(Option::is_none);
    if let Some(i) = missing {
        let e = FormatError::Invalid(format!("position {i} of {} is in no list or patch", l.count));
        return Err(Error::format("id lists", e));
    }
    Ok(ids.into_iter().map(|i| i.expect("checked")).collect())
}

/// `resolve`, reading from `repo`: each list and patch blob must be indexed
/// as its kind.
pub fn resolve_in(repo: &crate::repo::Repository, l: &IdLists) -> Result<Vec<Id>> {
    resolve(l, &mut |id, kind| match repo.locate(id) {
        Some(loc) if loc.kind != kind => Err(Error::format(
            format!("blob {id}"),
            FormatError::WrongKind { expected: kind.name(), found: loc.kind as u8 },
        )),
        _ => repo.read_blob(id),
    })
}

/// Report every blob the lists keep: each list and patch blob, and each id
/// they hold (superseded ones too: the full lists keep them until they are
/// written again), with its 1-based position as `page` when `pages` (a
/// database's page numbers).
pub fn reach(walk: &mut Walk, l: &IdLists, path: &Path, pages: bool) -> Result<()> {
    let at = |n: u64| pages.then_some(n);
    for (n, list) in l.lists.iter().enumerate() {
        if !walk.reached(list, ObjectKind::PageList, path, None)? {
            continue;
        }
        let Some(bytes) = walk.read(list, path)? else { continue };
        match decode_page_list(list, &bytes, ids_in_list(l.base, n)) {
            Ok(ids) => {
                let first = (n * PAGE_LIST_IDS) as u64 + 1;
                for (i, id) in ids.iter().enumerate() {
                    walk.reached(id, ObjectKind::Data, path, at(first + i as u64))?;
                }
            }
            Err(e) => walk.failed(list, path, e)?,
        }
    }
    for p in &l.patches {
        if !walk.reached(p, ObjectKind::ListPatch, path, None)? {
            continue;
        }
        let Some(bytes) = walk.read(p, path)? else { continue };
        match decode_patch(p, &bytes) {
            Ok(entries) => {
                for (i, id) in entries {
                    walk.reached(&id, ObjectKind::Data, path, at(i as u64 + 1))?;
                }
            }
            Err(e) => walk.failed(p, path, e)?,
        }
    }
    Ok(())
}

/// Store `ids`: as a patch on `parent` (its lists and the ids they
/// resolve to) when that is allowed and pays, else as full lists. Without
/// frames (formats 3 and 4) always full lists.
pub fn store(w: &mut BlobWriter, ids: &[Id], parent: Option<(&IdLists, &[Id])>) -> Result<IdLists> {
    let count = ids.len() as u64;
    if let Some((p, old)) = parent.filter(|_| w.frames()) {
        let changed: Vec<(u32, Id)> =
            ids.iter().enumerate().filter(|(i, id)| old.get(*i) != Some(id)).map(|(i, id)| (i as u32, *id)).collect();
        if changed.is_empty() && count == p.count {
            return Ok(p.clone());
        }
        let patched = p.patched + changed.len() as u64;
        // Appended ids must come from a patch too: a shrunk-then-grown
        // sequence whose new tail matches stale base entries is still listed.
        let fits = p.patches.len() < MAX_PATCHES && patched <= count / PATCH_FRACTION;
        if fits && !changed.is_empty() && reusable(w, p) {
            let patch = w.add(ObjectKind::ListPatch, &encode_patch(&changed))?;
            let mut patches = p.patches.clone();
            patches.push(patch);
            return Ok(IdLists { count, base: p.base, lists: p.lists.clone(), patches, patched });
        }
    }
    let lists: Result<Vec<Id>> =
        ids.chunks(PAGE_LIST_IDS).map(|g| w.add(ObjectKind::PageList, &encode_page_list(g))).collect();
    Ok(IdLists::full(count, lists?))
}

/// True if every list and patch blob of `p` is stored and may be referenced
/// (not in a pack prune has marked).
fn reusable(w: &mut BlobWriter, p: &IdLists) -> bool {
    p.lists.iter().chain(&p.patches).all(|id| w.can_reuse(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_round_trip_and_bad_patches() {
        let e = vec![(0u32, Id::hash(b"a")), (7, Id::hash(b"b"))];
        let b = encode_patch(&e);
        assert_eq!(decode_patch(&Id::default(), &b).unwrap(), e);
        assert!(decode_patch(&Id::default(), &b[..35]).is_err());
        assert!(decode_patch(&Id::default(), &[]).is_err());
        let back = encode_patch(&[(7, Id::hash(b"b")), (7, Id::hash(b"c"))]);
        assert!(decode_patch(&Id::default(), &back).is_err());
    }

    #[test]
    fn resolve_applies_patches_in_order() {
        let ids: Vec<Id> = (0..5u8).map(|i| Id::hash(&[i])).collect();
        let list = encode_page_list(&ids[..3]);
        let p1 = encode_patch(&[(1, ids[4]), (3, ids[3])]);
        let p2 = encode_patch(&[(1, ids[2])]);
        let (lid, p1id, p2id) = (Id::hash(&list), Id::hash(&p1), Id::hash(&p2));
        let l = IdLists { count: 4, base: 3, lists: vec![lid], patches: vec![p1id, p2id], patched: 3 };
        let mut read = |id: &Id, _: ObjectKind| -> Result<Vec<u8>> {
            Ok(if *id == lid {
                list.clone()
            } else if *id == p1id {
                p1.clone()
            } else {
                p2.clone()
            })
        };
        assert_eq!(resolve(&l, &mut read).unwrap(), vec![ids[0], ids[2], ids[2], ids[3]]);
        // Position 3 left to no patch: refused.
        let short = IdLists { patches: vec![p2id], ..l.clone() };
        assert!(resolve(&short, &mut read).is_err());
        // Shrunk: positions past the count are dropped.
        let shrunk = IdLists { count: 2, patches: vec![], patched: 0, ..l.clone() };
        assert_eq!(resolve(&shrunk, &mut read).unwrap(), vec![ids[0], ids[1]]);
        assert!(IdLists { lists: vec![], ..l }.validate().is_err());
    }
}

//! Index files (which blob lives where) and the in-memory index built from
//! them.
//!
//! The in-memory index is a sorted array of fixed 48-byte records searched by
//! binary search, not a general-purpose hash map: 32-byte id, pack number with
//! the blob kind in its top four bits, offset, sealed length and plaintext length.
//! Memory per indexed chunk is 48 bytes (format-spec/index.md gives the
//! formula per TiB).

use crate::format::id::Id;
use crate::format::ObjectKind;
use crate::pack::BlobEntry;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One index file: packs and the blobs each holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexFile {
    pub packs: Vec<IndexPack>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexPack {
    pub id: Id,
    pub blobs: Vec<BlobEntry>,
}

impl crate::format::decode::Validate for IndexFile {
    /// Each pack listed once, its entries valid (`pack::validate_entries`).
    fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::with_capacity(self.packs.len());
        for p in &self.packs {
            if !seen.insert(p.id) {
                return Err(format!("pack {} is listed twice", p.id.short()));
            }
            crate::pack::validate_entries(&p.blobs, None).map_err(|e| format!("pack {}: {e}", p.id.short()))?;
        }
        Ok(())
    }
}

impl IndexFile {
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::format::FormatError> {
        crate::format::decode::decode(bytes)
    }
    pub fn encode(&self) -> Vec<u8> {
        crate::format::decode::encode(self)
    }
}

/// Each frame's total plaintext, from `MasterIndex::shares`.
pub struct Shares {
    frames: HashMap<(u32, u32), u64>,
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    id: [u8; 32],
    pack_kind: u32,
    offset: u32,
    length: u32,
    raw_length: u32,
}

/// The blob kind (its position in `format::BLOB_KINDS`) lives in the top 4 bits of `pack_kind`, the pack number in
/// the other 28 (268 million packs, 4 EiB at the default pack size).
const KIND_SHIFT: u32 = 28;
const PACK_MASK: u32 = (1 << KIND_SHIFT) - 1;
/// The code of frame members in the top bits (`ObjectKind::blob_code`).
const FRAME_CODE: u8 = 5;
const _: () = assert!(matches!(crate::format::BLOB_KINDS[FRAME_CODE as usize], ObjectKind::Frame));

/// Where a blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub pack: Id,
    pub kind: ObjectKind,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
}

impl Location {
    /// The pack-trailer / index-file record of blob `id` at this location.
    pub fn entry(&self, id: Id) -> BlobEntry {
        BlobEntry { id, kind: self.kind as u8, offset: self.offset, length: self.length, raw_length: self.raw_length }
    }
}

#[derive(Default)]
pub struct MasterIndex {
    packs: Vec<Id>,
    pack_numbers: HashMap<Id, u32>,
    entries: Vec<Entry>,
    /// `fanout[p]..fanout[p + 1]` are the entries whose id starts with the
    /// two bytes `p` (as git's pack index does): ids are uniformly random,
    /// so a lookup binary-searches a handful of entries instead of
    /// ~20 levels of the whole array. 256 KiB.
    fanout: Vec<u32>,
    sorted: bool,
}

const FANOUT: usize = 1 << 16;

fn prefix(id: &[u8; 32]) -> usize {
    u16::from_be_bytes([id[0], id[1]]) as usize
}

impl MasterIndex {
    pub fn new() -> Self {
        MasterIndex { sorted: true, ..Default::default() }
    }

    /// Reserve room for `n` more entries. Reserved but unused pages are never
    /// touched, so an over-estimate costs address space, not memory, and
    /// loading never has to copy the array to grow it.
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve_exact(n);
    }

    /// Add every blob of `file` (validated when decoded); call `finalize`
    /// before lookups. Refuses (adding nothing) past 2^28 packs.
    pub fn add(&mut self, file: &IndexFile) -> Result<(), String> {
        let new = file.packs.iter().filter(|p| !self.pack_numbers.contains_key(&p.id)).count();
        if self.packs.len() + new > PACK_MASK as usize {
            return Err(format!("more than {PACK_MASK} packs: beyond what one index can hold"));
        }
        for p in &file.packs {
            let next = self.packs.len() as u32;
            let n = *self.pack_numbers.entry(p.id).or_insert(next);
            if n == next {
                self.packs.push(p.id);
            }
            for b in &p.blobs {
                // Kinds are validated blob kinds by the decoder; an unknown
                // one would read back as data and fail its kind check.
                let code = ObjectKind::from_u8(b.kind).and_then(ObjectKind::blob_code).unwrap_or(0);
                self.entries.push(Entry {
                    id: b.id.0,
                    pack_kind: n | (code as u32) << KIND_SHIFT,
                    offset: b.offset,
                    length: b.length,
                    raw_length: b.raw_length,
                });
            }
        }
        self.sorted = false;
        Ok(())
    }

    /// Sort and drop duplicate entries (a blob stored twice by concurrent
    /// backups is found in either pack; the first is kept).
    pub fn finalize(&mut self) {
        self.finalize_avoiding(&Default::default());
    }

    /// `finalize`, keeping of a duplicated blob the copy that is not in one
    /// of `avoid` (packs marked for deletion) when there is one.
    pub fn finalize_avoiding(&mut self, avoid: &std::collections::HashSet<Id>) {
        if !self.sorted {
            let avoided: Vec<bool> = self.packs.iter().map(|p| avoid.contains(p)).collect();
            // Ids are random, so their first 8 bytes as an integer decide
            // almost every comparison without a 32-byte memcmp.
            let head = |e: &Entry| u64::from_be_bytes(e.id[..8].try_into().unwrap());
            self.entries.sort_unstable_by(|a, b| {
                head(a).cmp(&head(b)).then_with(|| {
                    let key = |e: &Entry| (e.id, avoided[(e.pack_kind & PACK_MASK) as usize]);
                    key(a).cmp(&key(b))
                })
            });
            self.entries.dedup_by(|a, b| a.id == b.id);
            self.entries.shrink_to_fit();
            self.fanout = vec![0; FANOUT + 1];
            for e in &self.entries {
                self.fanout[prefix(&e.id) + 1] += 1;
            }
            for p in 0..FANOUT {
                self.fanout[p + 1] += self.fanout[p];
            }
            self.sorted = true;
        }
    }

    fn find(&self, id: &Id) -> Option<&Entry> {
        debug_assert!(self.sorted, "index used before finalize");
        if self.entries.is_empty() {
            return None;
        }
        let p = prefix(&id.0);
        let bucket = &self.entries[self.fanout[p] as usize..self.fanout[p + 1] as usize];
        bucket.binary_search_by(|e| e.id.cmp(&id.0)).ok().map(|i| &bucket[i])
    }

    pub fn contains(&self, id: &Id) -> bool {
        self.find(id).is_some()
    }

    pub fn lookup(&self, id: &Id) -> Option<Location> {
        self.find(id).map(|e| self.location(e))
    }

    fn location(&self, e: &Entry) -> Location {
        Location {
            pack: self.packs[(e.pack_kind & PACK_MASK) as usize],
            // An unknown kind reads as data, and then fails the kind check when opened.
            kind: crate::format::BLOB_KINDS[(e.pack_kind >> KIND_SHIFT) as usize % crate::format::BLOB_KINDS.len()],
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if an index file listed `pack` (even if all its blobs are
    /// duplicates found elsewhere).
    pub fn has_pack(&self, pack: &Id) -> bool {
        self.pack_numbers.contains_key(pack)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every (blob id, location) pair, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (Id, Location)> + '_ {
        (0..self.entries.len()).map(|i| self.entry(i))
    }

    /// Position of `id` in id order (0..len), for per-blob bit sets.
    pub fn position(&self, id: &Id) -> Option<usize> {
        self.find(id)
            .map(|e| (e as *const Entry as usize - self.entries.as_ptr() as usize) / std::mem::size_of::<Entry>())
    }

    /// (pack number, offset) of the blob at `position`: a cheap sort key
    /// that groups blobs by pack in file order.
    pub fn pack_order(&self, position: usize) -> (u32, u32) {
        let e = &self.entries[position];
        (e.pack_kind & PACK_MASK, e.offset)
    }

    /// The blob at `position`.
    pub fn entry(&self, position: usize) -> (Id, Location) {
        let e = &self.entries[position];
        (Id(e.id), self.location(e))
    }

    /// The stored bytes each blob accounts for: its sealed length, or for
    /// a frame member its share of the frame, in proportion to its
    /// plaintext length (so the shares of a frame add up to the frame, up
    /// to rounding). Used where waste and sizes are counted (prune, stats).
    pub fn shares(&self) -> Shares {
        let mut frames: HashMap<(u32, u32), u64> = HashMap::new();
        for e in &self.entries {
            if (e.pack_kind >> KIND_SHIFT) as u8 == FRAME_CODE {
                *frames.entry((e.pack_kind & PACK_MASK, e.offset)).or_default() += e.raw_length as u64;
            }
        }
        Shares { frames }
    }

    /// The share of the blob at `position` (see `shares`).
    pub fn share(&self, shares: &Shares, position: usize) -> u64 {
        let e = &self.entries[position];
        if (e.pack_kind >> KIND_SHIFT) as u8 != FRAME_CODE {
            return e.length as u64;
        }
        let total = shares.frames.get(&(e.pack_kind & PACK_MASK, e.offset)).copied().unwrap_or(1).max(1);
        (e.length as u64 * e.raw_length as u64).div_ceil(total)
    }

    /// Bytes of memory held per entry (the benchmark reports this).
    pub const BYTES_PER_ENTRY: usize = std::mem::size_of::<Entry>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_dedup() {
        assert_eq!(MasterIndex::BYTES_PER_ENTRY, 48);
        let p1 = Id::hash(b"p1");
        let mk =
            |d: &[u8], kind: u8, off: u32| BlobEntry { id: Id::hash(d), kind, offset: off, length: 10, raw_length: 20 };
        let file = IndexFile {
            packs: vec![
                IndexPack { id: p1, blobs: vec![mk(b"a", 1, 24), mk(b"t", 2, 34)] },
                IndexPack { id: Id::hash(b"p2"), blobs: vec![mk(b"a", 1, 24)] },
            ],
        };
        let mut idx = MasterIndex::new();
        idx.add(&file).unwrap();
        idx.finalize();
        assert_eq!(idx.len(), 2);
        let t = idx.lookup(&Id::hash(b"t")).unwrap();
        assert_eq!((t.pack, t.kind, t.offset), (p1, ObjectKind::Tree, 34));
        assert!(!idx.contains(&Id::hash(b"zz")));
        // Every id is found through its fan-out bucket, none that is absent.
        let mut big = MasterIndex::new();
        let blobs: Vec<BlobEntry> = (0..5000u32).map(|i| mk(&i.to_le_bytes(), 1, i)).collect();
        big.add(&IndexFile { packs: vec![IndexPack { id: p1, blobs: blobs.clone() }] }).unwrap();
        big.finalize();
        for b in &blobs {
            assert_eq!(big.lookup(&b.id).unwrap().offset, b.offset);
        }
        assert!((5000..6000u32).all(|i| !big.contains(&Id::hash(&i.to_le_bytes()))));
        for b in &blobs {
            let pos = big.position(&b.id).unwrap();
            assert_eq!(big.entry(pos).0, b.id);
        }
    }
}

//! Pack files: many sealed blobs in one object, self-describing through a
//! sealed trailer that lists every blob, so indexes can be rebuilt from packs.
//!
//! `CAIRNPK1 | nonce[16] | blob… | sealed(PackTrailer, bincode(Vec<BlobEntry>)) | trailer_len u32 LE | CPKE`
//!
//! A pack's name is the BLAKE3 of its complete bytes (`data/<2 hex>/<64 hex>`).

pub mod packer;

use crate::error::FormatError;
use crate::format::*;
use crate::id::Id;
use crate::seal::Sealer;
use serde::{Deserialize, Serialize};

/// Where one blob sits inside a pack; the same record is used in pack
/// trailers and in index files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEntry {
    pub id: Id,
    /// `ObjectKind` byte: 1 data, 2 tree.
    pub kind: u8,
    /// Offset of the sealed blob from the start of the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the blob's plaintext.
    pub raw_length: u32,
}

/// Backend key of a pack.
pub fn pack_key(id: &Id) -> String {
    let h = id.to_hex();
    format!("{PREFIX_DATA}{}/{h}", &h[..2])
}

/// Pack id from a backend key, if the key names a pack.
pub fn pack_id_from_key(key: &str) -> Option<Id> {
    key.rsplit('/').next().and_then(Id::parse)
}

/// Assemble a pack from sealed blobs already laid out in `body` (which starts
/// with the header) and their entries; returns the pack id and bytes.
pub fn finish_pack(mut body: Vec<u8>, entries: &[BlobEntry], sealer: &Sealer) -> (Id, Vec<u8>) {
    let trailer = sealer.seal(ObjectKind::PackTrailer, &bincode::serialize(entries).expect("serialise"));
    body.extend_from_slice(&trailer);
    body.extend_from_slice(&(trailer.len() as u32).to_le_bytes());
    body.extend_from_slice(PACK_END_MAGIC);
    (Id::hash(&body), body)
}

/// A pack buffer holding only the header (magic and a fresh nonce), reusing
/// the allocation of `reuse`.
pub fn new_pack_buffer(mut reuse: Vec<u8>, capacity: usize) -> Vec<u8> {
    reuse.clear();
    reuse.reserve(capacity);
    let mut b = reuse;
    b.extend_from_slice(PACK_MAGIC);
    let mut nonce = [0u8; PACK_NONCE_LEN];
    crate::id::random_bytes(&mut nonce);
    b.extend_from_slice(&nonce);
    b
}

/// Read the trailer of a complete pack.
pub fn parse_trailer(pack: &[u8], sealer: &Sealer) -> Result<Vec<BlobEntry>, FormatError> {
    if pack.len() < PACK_HEADER_LEN + PACK_FOOTER_LEN {
        return Err(FormatError::Truncated { len: pack.len() });
    }
    if &pack[..PACK_MAGIC.len()] != PACK_MAGIC || &pack[pack.len() - 4..] != PACK_END_MAGIC {
        return Err(FormatError::Magic);
    }
    let tlen = u32::from_le_bytes(pack[pack.len() - 8..pack.len() - 4].try_into().unwrap()) as usize;
    let end = pack.len() - PACK_FOOTER_LEN;
    if tlen > end - PACK_HEADER_LEN {
        return Err(FormatError::Truncated { len: pack.len() });
    }
    let raw = sealer.unseal(ObjectKind::PackTrailer, &pack[end - tlen..end])?;
    let entries: Vec<BlobEntry> = bincode::deserialize(&raw).map_err(|e| FormatError::Decode(e.to_string()))?;
    for e in &entries {
        if e.offset as usize + e.length as usize > end - tlen || (e.offset as usize) < PACK_HEADER_LEN {
            return Err(FormatError::Decode(format!("blob {} lies outside the pack body", e.id.short())));
        }
    }
    Ok(entries)
}

/// Open one sealed blob of a pack and check that its plaintext hashes to its id.
pub fn open_blob(entry: &BlobEntry, sealed: &[u8], sealer: &Sealer) -> Result<Vec<u8>, FormatError> {
    let kind = ObjectKind::from_u8(entry.kind)
        .ok_or(FormatError::WrongKind { expected: "data or tree", found: entry.kind })?;
    let raw = sealer.unseal(kind, sealed)?;
    let got = sealer.id(&raw);
    if got != entry.id {
        return Err(FormatError::HashMismatch { want: entry.id.to_hex(), got: got.to_hex() });
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_round_trip_and_truncation() {
        let s = Sealer::new(3);
        let mut body = new_pack_buffer(vec![], 0);
        let mut entries = vec![];
        for data in [&b"one"[..], b"two two two"] {
            let sealed = s.seal(ObjectKind::Data, data);
            entries.push(BlobEntry {
                id: Id::hash(data),
                kind: 1,
                offset: body.len() as u32,
                length: sealed.len() as u32,
                raw_length: data.len() as u32,
            });
            body.extend_from_slice(&sealed);
        }
        let (id, pack) = finish_pack(body, &entries, &s);
        assert_eq!(id, Id::hash(&pack));
        let parsed = parse_trailer(&pack, &s).unwrap();
        assert_eq!(parsed, entries);
        let e = &parsed[1];
        let blob = &pack[e.offset as usize..(e.offset + e.length) as usize];
        assert_eq!(open_blob(e, blob, &s).unwrap(), b"two two two");
        assert!(parse_trailer(&pack[..pack.len() - 10], &s).is_err());
    }
}

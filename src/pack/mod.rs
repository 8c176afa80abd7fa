//! Pack files: many sealed blobs in one object, self-describing through a
//! sealed trailer that lists every blob, so indexes can be rebuilt from packs.
//!
//! `CAIRNPK1 | nonce[16] | blob… | sealed(PackTrailer, bincode(Vec<BlobEntry>)) | trailer_len u32 LE | CPKE`
//!
//! A pack's name is the BLAKE3 of its complete bytes (`data/<2 hex>/<64 hex>`).

pub mod frame;
pub mod index;
pub mod packer;

use crate::format::id::Id;
use crate::format::FormatError;
use crate::format::*;
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

/// The smallest sealed blob: a plaintext envelope of an empty object.
const MIN_SEALED: u32 = (SEAL_HEADER_LEN + SEAL_CHECK_LEN) as u32;

/// The entries of one pack, as a trailer or an index file lists them: known
/// blob kinds, every blob after the header, at least an envelope long,
/// none overlapping another (the members of one frame share its span
/// exactly), and all before `body_end` when the pack's size is known.
/// Whoever slices a pack by these entries relies on this.
pub fn validate_entries(blobs: &[BlobEntry], body_end: Option<u64>) -> Result<(), String> {
    let mut spans: Vec<(u64, u64, bool, &Id)> = Vec::with_capacity(blobs.len());
    for b in blobs {
        if !ObjectKind::from_u8(b.kind).is_some_and(ObjectKind::is_blob) {
            return Err(format!("blob {} has kind {}, which packs do not hold", b.id.short(), b.kind));
        }
        if (b.offset as usize) < PACK_HEADER_LEN || b.length < MIN_SEALED {
            return Err(format!(
                "blob {} at {}+{} overlaps the pack header or is too short",
                b.id.short(),
                b.offset,
                b.length
            ));
        }
        let framed = b.kind == ObjectKind::Frame as u8;
        spans.push((b.offset as u64, b.offset as u64 + b.length as u64, framed, &b.id));
    }
    if !spans.is_sorted() {
        spans.sort_unstable();
    }
    for w in spans.windows(2) {
        let same_frame = w[0].2 && w[1].2 && (w[0].0, w[0].1) == (w[1].0, w[1].1);
        if w[0].1 > w[1].0 && !same_frame {
            return Err(format!("blobs {} and {} overlap", w[0].3.short(), w[1].3.short()));
        }
    }
    match (spans.last(), body_end) {
        (Some(last), Some(end)) if last.1 > end => {
            Err(format!("blob {} ends at {}, after the pack body ({end} bytes)", last.3.short(), last.1))
        }
        _ => Ok(()),
    }
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
    let trailer = sealer.seal(ObjectKind::PackTrailer, &crate::format::decode::encode(&entries));
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
    crate::format::id::random_bytes(&mut nonce);
    b.extend_from_slice(&nonce);
    b
}

/// Read the trailer of a complete pack.
pub fn parse_trailer(pack: &[u8], sealer: &Sealer) -> Result<Vec<BlobEntry>, FormatError> {
    if pack.len() < PACK_HEADER_LEN + PACK_FOOTER_LEN {
        return Err(FormatError::Truncated { len: pack.len() });
    }
    if &pack[..PACK_MAGIC.len()] != PACK_MAGIC {
        return Err(FormatError::Magic);
    }
    let (at, len) = trailer_span(&pack[pack.len() - PACK_FOOTER_LEN..], pack.len() as u64)?;
    decode_trailer(&pack[at as usize..(at + len) as usize], at, sealer)
}

/// Where the sealed trailer of a pack of `pack_len` bytes lies, from its
/// 8-byte footer: (offset, length). Lets the trailer be read on its own.
pub fn trailer_span(footer: &[u8], pack_len: u64) -> Result<(u64, u64), FormatError> {
    if footer.len() != PACK_FOOTER_LEN || pack_len < (PACK_HEADER_LEN + PACK_FOOTER_LEN) as u64 {
        return Err(FormatError::Truncated { len: pack_len as usize });
    }
    if &footer[4..] != PACK_END_MAGIC {
        return Err(FormatError::Magic);
    }
    let tlen = u32::from_le_bytes(footer[..4].try_into().expect("4 bytes")) as u64;
    let end = pack_len - PACK_FOOTER_LEN as u64;
    if tlen > end - PACK_HEADER_LEN as u64 {
        return Err(FormatError::Truncated { len: pack_len as usize });
    }
    Ok((end - tlen, tlen))
}

/// Open and validate a sealed trailer whose blobs must lie before `body_end`.
pub fn decode_trailer(sealed: &[u8], body_end: u64, sealer: &Sealer) -> Result<Vec<BlobEntry>, FormatError> {
    let raw = sealer.unseal(ObjectKind::PackTrailer, sealed)?;
    let entries: Trailer = crate::format::decode::decode(&raw)?;
    validate_entries(&entries.0, Some(body_end)).map_err(FormatError::Invalid)?;
    Ok(entries.0)
}

/// The trailer's plaintext: bincode of the entry list.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct Trailer(Vec<BlobEntry>);

impl crate::format::decode::Validate for Trailer {
    fn validate(&self) -> Result<(), String> {
        validate_entries(&self.0, None)
    }
}

/// Open one sealed blob of a pack (or a frame member, from its frame's
/// span) and check that its plaintext hashes to its id. To open many
/// entries of one pack, use one `frame::Opener` for all of them.
pub fn open_blob(entry: &BlobEntry, sealed: &[u8], sealer: &Sealer) -> Result<Vec<u8>, FormatError> {
    frame::Opener::new(sealer).open(entry, sealed)
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

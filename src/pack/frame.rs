//! Frames: runs of small chunks compressed and sealed as one object, so
//! zstd finds what neighbouring pages or element parts share (format 5,
//! format-spec/objects.md "Frames").
//!
//! Plaintext: `count u32 LE | length u32 LE × count | member bytes…`.
//! A member is found by its id: opening a frame hashes every member (the
//! frame is authenticated as a whole, and each member is then checked
//! against the id it is read for), so the frame needs no id table — the
//! pack trailer and the index already hold every member's id.
//!
//! `Opener` is the one place sealed pack entries are decoded: a plain blob
//! is opened and checked against its id, a frame member through its frame,
//! which is opened once for all its members read in a row.

use super::BlobEntry;
use crate::format::id::Id;
use crate::format::{FormatError, ObjectKind, FRAME_MAX_MEMBERS};
use crate::seal::Sealer;
use std::ops::Range;

/// The plaintext of a frame holding `members`, in order.
pub fn encode(members: &[&[u8]]) -> Vec<u8> {
    let total: usize = members.iter().map(|m| m.len()).sum();
    let mut out = Vec::with_capacity(4 + 4 * members.len() + total);
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for m in members {
        out.extend_from_slice(&(m.len() as u32).to_le_bytes());
    }
    for m in members {
        out.extend_from_slice(m);
    }
    out
}

/// An opened frame: its plaintext and where each member lies, by id.
pub struct Frame {
    raw: Vec<u8>,
    /// Sorted by id.
    members: Vec<(Id, Range<usize>)>,
}

impl Frame {
    /// Parse a frame's plaintext: a count from 1 to `FRAME_MAX_MEMBERS`,
    /// lengths that add up to exactly the bytes after the table. Each
    /// member's id is computed with `sealer.id`.
    pub fn parse(raw: Vec<u8>, sealer: &Sealer) -> Result<Frame, FormatError> {
        let bad = |m: String| FormatError::Invalid(format!("frame: {m}"));
        let count = raw.get(..4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
        let count = count.ok_or(FormatError::Truncated { len: raw.len() })?;
        if count == 0 || count > FRAME_MAX_MEMBERS {
            return Err(bad(format!("{count} members, expected 1 to {FRAME_MAX_MEMBERS}")));
        }
        let table_end = 4 + 4 * count;
        let table = raw.get(4..table_end).ok_or(FormatError::Truncated { len: raw.len() })?;
        let mut members = Vec::with_capacity(count);
        let mut at = table_end;
        for l in table.chunks_exact(4) {
            let len = u32::from_le_bytes(l.try_into().expect("4 bytes")) as usize;
            let end = at.checked_add(len).filter(|&e| e <= raw.len());
            let end = end.ok_or_else(|| bad(format!("members need more than its {} bytes", raw.len())))?;
            members.push((sealer.id(&raw[at..end]), at..end));
            at = end;
        }
        if at != raw.len() {
            return Err(bad(format!("{} bytes after the last member", raw.len() - at)));
        }
        members.sort_unstable_by_key(|m| m.0);
        Ok(Frame { raw, members })
    }

    /// The plaintext of member `id`, if the frame holds it.
    pub fn get(&self, id: &Id) -> Option<&[u8]> {
        let i = self.members.binary_search_by_key(id, |m| m.0).ok()?;
        Some(&self.raw[self.members[i].1.clone()])
    }

    /// Members, by id.
    pub fn members(&self) -> impl Iterator<Item = (&Id, &[u8])> {
        self.members.iter().map(|(id, r)| (id, &self.raw[r.clone()]))
    }
}

/// Opens sealed pack entries, keeping the last frame opened so that the
/// members of one frame, read in a row, open it once.
pub struct Opener<'s> {
    sealer: &'s Sealer,
    /// The span (offset, length) of the last frame opened, and the result.
    last: Option<((u32, u32), Result<Frame, FormatError>)>,
}

impl<'s> Opener<'s> {
    pub fn new(sealer: &'s Sealer) -> Self {
        Opener { sealer, last: None }
    }

    /// The plaintext of `entry` from its `sealed` span, checked: kind,
    /// authenticity, and that it hashes to the entry's id.
    pub fn open(&mut self, entry: &BlobEntry, sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
        let kind = ObjectKind::from_u8(entry.kind)
            .filter(|k| k.is_blob())
            .ok_or(FormatError::WrongKind { expected: "a blob kind", found: entry.kind })?;
        if kind != ObjectKind::Frame {
            let raw = self.sealer.unseal(kind, sealed)?;
            let got = self.sealer.id(&raw);
            if got != entry.id {
                return Err(FormatError::HashMismatch { want: entry.id.to_hex(), got: got.to_hex() });
            }
            return Ok(raw);
        }
        let span = (entry.offset, entry.length);
        if self.last.as_ref().is_none_or(|(s, _)| *s != span) {
            let frame = self.sealer.unseal(ObjectKind::Frame, sealed).and_then(|raw| Frame::parse(raw, self.sealer));
            self.last = Some((span, frame));
        }
        let frame = self.last.as_ref().expect("set").1.as_ref().map_err(Clone::clone)?;
        let raw =
            frame.get(&entry.id).ok_or_else(|| FormatError::Missing(format!("frame holds no blob {}", entry.id)))?;
        if raw.len() != entry.raw_length as usize {
            return Err(FormatError::Length { want: entry.raw_length as usize, got: raw.len() });
        }
        Ok(raw.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_and_bad_tables() {
        let s = Sealer::new(3);
        let members: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 100 + i as usize]).collect();
        let refs: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
        let raw = encode(&refs);
        let f = Frame::parse(raw.clone(), &s).unwrap();
        for m in &members {
            assert_eq!(f.get(&s.id(m)), Some(m.as_slice()));
        }
        assert_eq!(f.get(&Id::hash(b"absent")), None);
        // Cut short, one byte too many, a count of zero, a length past the end.
        assert!(Frame::parse(raw[..raw.len() - 1].to_vec(), &s).is_err());
        assert!(Frame::parse([&raw[..], &[0]].concat(), &s).is_err());
        assert!(Frame::parse(0u32.to_le_bytes().to_vec(), &s).is_err());
        let mut long = raw.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Frame::parse(long, &s).is_err());
        assert!(Frame::parse(vec![1, 0], &s).is_err());
    }

    #[test]
    fn opener_checks_members_against_entries() {
        let s = Sealer::new(3);
        let members = [b"first page".to_vec(), b"second page".to_vec()];
        let refs: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
        let sealed = s.seal(ObjectKind::Frame, &encode(&refs));
        let entry = |m: &[u8]| BlobEntry {
            id: s.id(m),
            kind: ObjectKind::Frame as u8,
            offset: 24,
            length: sealed.len() as u32,
            raw_length: m.len() as u32,
        };
        let mut o = Opener::new(&s);
        assert_eq!(o.open(&entry(&members[1]), &sealed).unwrap(), members[1]);
        assert_eq!(o.open(&entry(&members[0]), &sealed).unwrap(), members[0]);
        assert!(o.open(&entry(b"not in it"), &sealed).is_err());
        let mut wrong_len = entry(&members[0]);
        wrong_len.raw_length += 1;
        assert!(o.open(&wrong_len, &sealed).is_err());
        let mut bad = sealed.clone();
        bad[30] ^= 1;
        assert!(Opener::new(&s).open(&entry(&members[0]), &bad).is_err());
    }
}

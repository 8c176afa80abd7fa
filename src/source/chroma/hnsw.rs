//! hnswlib's persisted index as Chroma 1.5 writes it into a vector segment
//! directory (format-spec/chroma.md#hnsw-files): `header.bin` (100 bytes),
//! `data_level0.bin` (one record of `stride` bytes per element: the level-0
//! link list, the vector, the 8-byte label), `length.bin` and
//! `link_lists.bin` (the upper levels).
//!
//! A persist rewrites the link lists of many elements in place but never
//! the vectors, so `data_level0.bin` is split per record into its link part
//! (grouped, `LINK_GROUP` elements per chunk) and its vector-and-label part
//! (one chunk per element): a persist then costs the link groups that
//! changed, not the file.

use std::collections::HashSet;

/// Size of `header.bin`.
pub const HEADER_LEN: usize = 100;

/// Elements whose level-0 links form one chunk. Measured on 50,000 × 384-d
/// items after 1,000 adds and a persist (format-spec/chroma.md#chunking).
pub const LINK_GROUP: usize = 4;

/// The fields of `header.bin` (little-endian; `usize` fields are 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub version: u32,
    pub offset_level0: u64,
    pub capacity: u64,
    pub elements: u64,
    /// Bytes per element record in `data_level0.bin`.
    pub stride: u64,
    pub label_offset: u64,
    /// Where the vector starts in a record (the level-0 links end there).
    pub data_offset: u64,
    pub max_level: i32,
    pub entry_point: u32,
    pub max_m: u64,
    pub max_m0: u64,
    pub m: u64,
    pub mult: f64,
    pub ef_construction: u64,
}

/// Why a header was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderError {
    /// The header itself is not one cairn understands (the capture falls
    /// back to 4 KiB blocks).
    Unusable(String),
    /// The header is consistent but names more records than
    /// `data_level0.bin` holds: the file was cut short.
    Truncated(String),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Unusable(w) | HeaderError::Truncated(w) => f.write_str(w),
        }
    }
}

impl Header {
    /// Parse `header.bin`; checks every field against the others and
    /// against the size of `data_level0.bin` (`level0_len`). The error says
    /// which check failed.
    pub fn parse(b: &[u8], level0_len: u64) -> Result<Header, HeaderError> {
        if b.len() != HEADER_LEN {
            return Err(HeaderError::Unusable(format!("header.bin has {} bytes, not {HEADER_LEN}", b.len())));
        }
        let u = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let h = Header {
            version: u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
            offset_level0: u(4),
            capacity: u(12),
            elements: u(20),
            stride: u(28),
            label_offset: u(36),
            data_offset: u(44),
            max_level: i32::from_le_bytes(b[52..56].try_into().expect("4 bytes")),
            entry_point: u32::from_le_bytes(b[56..60].try_into().expect("4 bytes")),
            max_m: u(60),
            max_m0: u(68),
            m: u(76),
            mult: f64::from_le_bytes(b[84..92].try_into().expect("8 bytes")),
            ef_construction: u(92),
        };
        h.check_fields().map_err(HeaderError::Unusable)?;
        h.check_size(level0_len)?;
        Ok(h)
    }

    /// The fields against each other.
    fn check_fields(&self) -> Result<(), String> {
        let links = 4u64.checked_add(self.max_m0.checked_mul(4).ok_or("maxM0 overflows")?).ok_or("maxM0 overflows")?;
        let checks: [(bool, String); 6] = [
            (self.version == 1, format!("version {} (only 1 is known)", self.version)),
            (self.offset_level0 == 0, format!("level-0 offset {} is not 0", self.offset_level0)),
            (
                self.elements <= self.capacity,
                format!("{} elements exceed the capacity {}", self.elements, self.capacity),
            ),
            (self.data_offset == links, format!("data offset {} is not 4 + 4 × maxM0 ({links})", self.data_offset)),
            (
                self.data_offset < self.label_offset && self.label_offset.checked_add(8) == Some(self.stride),
                format!(
                    "record layout (data at {}, label at {}, stride {}) is not links, vector, 8-byte label",
                    self.data_offset, self.label_offset, self.stride
                ),
            ),
            (self.stride <= 1 << 20, format!("stride {} is implausibly large", self.stride)),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, why)) => Err(why),
            None => Ok(()),
        }
    }

    /// The fields against the size of `data_level0.bin`. Persisted: exactly
    /// the elements; never persisted yet: the capacity's worth of records,
    /// none of them an element (seen with chromadb 1.5.9 below its first
    /// persist). Fewer bytes than the elements need: cut short.
    fn check_size(&self, level0_len: u64) -> Result<(), HeaderError> {
        let why = || {
            format!(
                "data_level0.bin has {level0_len} bytes, not whole records of {} for {} to {} elements",
                self.stride, self.elements, self.capacity
            )
        };
        // check_fields made stride ≥ 13 and ≤ 1 MiB, so nothing here divides by 0.
        match self.elements.checked_mul(self.stride) {
            Some(need) if need > level0_len => Err(HeaderError::Truncated(why())),
            Some(_)
                if level0_len.is_multiple_of(self.stride)
                    && level0_len / self.stride <= self.capacity.max(self.elements) =>
            {
                Ok(())
            }
            _ => Err(HeaderError::Unusable(why())),
        }
    }

    /// Bytes of an element's link part.
    pub fn links_len(&self) -> usize {
        self.data_offset as usize
    }
}

/// The parts of `data_level0.bin` (`elements` records of `stride` bytes):
/// one chunk per group of `LINK_GROUP` link parts, one per element for
/// the rest of its record.
pub fn split(data: &[u8], stride: usize, links_len: usize) -> (Vec<Vec<u8>>, Vec<&[u8]>) {
    let records: Vec<&[u8]> = data.chunks_exact(stride).collect();
    let groups =
        records.chunks(LINK_GROUP).map(|g| g.iter().flat_map(|r| &r[..links_len]).copied().collect()).collect();
    let rest = records.iter().map(|r| &r[links_len..]).collect();
    (groups, rest)
}

/// Where the bytes of a part go in `data_level0.bin`: a link group
/// starting at element `first` is scattered over its records; the rest of
/// element `i`'s record is one contiguous range.
pub fn place_links(out: &mut [u8], group: &[u8], first: usize, stride: usize, links_len: usize) -> Result<(), String> {
    if group.is_empty() || !group.len().is_multiple_of(links_len) {
        return Err(format!("a link group of {} bytes is not whole link lists of {links_len}", group.len()));
    }
    for (j, links) in group.chunks_exact(links_len).enumerate() {
        let at = (first + j) * stride;
        out.get_mut(at..at + links_len).ok_or("a link group reaches past the file")?.copy_from_slice(links);
    }
    Ok(())
}

/// Labels of every element are unique (hnswlib maps labels to elements).
pub fn labels_unique(data: &[u8], h: &Header) -> Result<(), String> {
    let mut seen = HashSet::with_capacity(h.elements as usize);
    for (i, r) in data.chunks_exact(h.stride as usize).take(h.elements as usize).enumerate() {
        let at = h.label_offset as usize;
        let label = u64::from_le_bytes(r[at..at + 8].try_into().expect("8 bytes"));
        if !seen.insert(label) {
            return Err(format!("label {label} of element {i} is used twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(elements: u64, m0: u64, dim_bytes: u64) -> Vec<u8> {
        let data = 4 + 4 * m0;
        let stride = data + dim_bytes + 8;
        let mut b = Vec::new();
        b.extend_from_slice(&1u32.to_le_bytes());
        for v in [0, elements + 10, elements, stride, data + dim_bytes, data] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&2i32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for v in [m0 / 2, m0, m0 / 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&0.36f64.to_le_bytes());
        b.extend_from_slice(&100u64.to_le_bytes());
        b
    }

    #[test]
    fn parses_and_checks_sizes() {
        let b = header(5000, 32, 1536);
        let h = Header::parse(&b, 5000 * 1676).unwrap();
        assert_eq!((h.stride, h.data_offset, h.label_offset, h.elements), (1676, 132, 1668, 5000));
        assert!(Header::parse(&b, 5000 * 1676 + 1).unwrap_err().to_string().contains("data_level0.bin"));
        assert!(
            matches!(Header::parse(&b, 4999 * 1676), Err(HeaderError::Truncated(_))),
            "fewer records than elements"
        );
        assert!(Header::parse(&b, 5010 * 1676).is_ok(), "records up to the capacity");
        assert!(Header::parse(&b, 5011 * 1676).is_err(), "records beyond the capacity");
        assert!(Header::parse(&b[..99], 0).is_err());
        let mut bad = b.clone();
        bad[0] = 2;
        assert!(matches!(Header::parse(&bad, 5000 * 1676), Err(HeaderError::Unusable(w)) if w.contains("version")));
        // A header cairn does not understand is never called truncated.
        assert!(matches!(Header::parse(&bad, 10), Err(HeaderError::Unusable(_))));
        let mut bad = b.clone();
        bad[44] = 0; // data offset 0
        assert!(Header::parse(&bad, 5000 * 1676).is_err());
        let mut bad = b;
        bad[20..28].copy_from_slice(&u64::MAX.to_le_bytes()); // elements × stride overflows
        assert!(Header::parse(&bad, 5000 * 1676).is_err());
    }

    #[test]
    fn split_and_place_round_trip() {
        let (stride, links) = (20usize, 8usize);
        let data: Vec<u8> = (0..stride * 19).map(|i| (i * 7 % 251) as u8).collect();
        let (groups, rest) = split(&data, stride, links);
        assert_eq!(groups.len(), 19usize.div_ceil(LINK_GROUP));
        let mut out = vec![0u8; data.len()];
        for (g, bytes) in groups.iter().enumerate() {
            place_links(&mut out, bytes, g * LINK_GROUP, stride, links).unwrap();
        }
        for (i, r) in rest.iter().enumerate() {
            out[i * stride + links..(i + 1) * stride].copy_from_slice(r);
        }
        assert_eq!(out, data);
        assert!(place_links(&mut out, &[0; 7], 0, stride, links).is_err());
        assert!(place_links(&mut out, &[0; 16], 18, stride, links).is_err());
    }
}

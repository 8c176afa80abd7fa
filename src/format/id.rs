//! Content identifiers: 32-byte BLAKE3 digests, printed as lowercase hex.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The identity of a chunk, tree, pack, index or snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Id(pub [u8; 32]);

impl Id {
    /// BLAKE3 of `data`: the id of a chunk or tree blob.
    pub fn hash(data: &[u8]) -> Self {
        Id(*blake3::hash(data).as_bytes())
    }
    pub fn random() -> Self {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).expect("operating system random source");
        Id(b)
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// The first 8 hex digits, as shown in listings.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
    pub fn parse(s: &str) -> Option<Self> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(Id(b))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

/// Fill `buf` with random bytes from the operating system.
pub fn random_bytes(buf: &mut [u8]) {
    getrandom::fill(buf).expect("operating system random source");
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hex_round_trip() {
        let id = Id::hash(b"abc");
        assert_eq!(Id::parse(&id.to_hex()), Some(id));
        assert_eq!(id.short().len(), 8);
        assert_eq!(Id::parse("zz"), None);
    }
}

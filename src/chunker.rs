//! Content-defined chunking with FastCDC (the 2020 algorithm, normalisation
//! level 1). Parameters are recorded in the repository config, since changing
//! them changes every chunk boundary and so defeats deduplication.

use crate::error::{Error, Result};
use crate::format::{CHUNK_AVG_LIMITS, CHUNK_MAX_LIMITS, CHUNK_MIN_LIMITS};
use serde::{Deserialize, Serialize};
use std::io::Read;

/// FastCDC sizes in bytes. Defaults (format-spec/chunking.md explains the
/// measurement behind them): min 256 KiB, average 1 MiB, max 4 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams { min: 256 << 10, avg: 1 << 20, max: 4 << 20 }
    }
}

impl ChunkerParams {
    pub fn validate(&self) -> Result<()> {
        let within = |v: u32, (lo, hi): (u32, u32)| v >= lo && v <= hi;
        if !(within(self.min, CHUNK_MIN_LIMITS)
            && within(self.avg, CHUNK_AVG_LIMITS)
            && within(self.max, CHUNK_MAX_LIMITS)
            && self.min <= self.avg
            && self.avg <= self.max)
        {
            return Err(Error::InvalidArgument(format!(
                "chunk sizes min {} / avg {} / max {} are invalid: need min <= avg <= max, min in {:?}, avg in {:?}, max in {:?}",
                self.min, self.avg, self.max, CHUNK_MIN_LIMITS, CHUNK_AVG_LIMITS, CHUNK_MAX_LIMITS
            )));
        }
        Ok(())
    }

    /// Chunks read from `source`, each as an owned buffer in stream order.
    pub fn stream<R: Read>(&self, source: R) -> impl Iterator<Item = std::io::Result<Vec<u8>>> {
        fastcdc::v2020::StreamCDC::new(source, self.min, self.avg, self.max).map(|r| match r {
            Ok(c) => Ok(c.data),
            Err(fastcdc::v2020::Error::IoError(e)) => Err(e),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        })
    }

    /// Cut points of an in-memory buffer (used for tree streams and tests).
    pub fn cut(&self, data: &[u8]) -> Vec<(usize, usize)> {
        fastcdc::v2020::FastCDC::new(data, self.min, self.avg, self.max)
            .map(|c| (c.offset, c.length))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertion_moves_few_boundaries() {
        let p = ChunkerParams { min: 2048, avg: 8192, max: 32768 };
        let mut data = vec![0u8; 1 << 20];
        let mut x = 1u64;
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let a: std::collections::HashSet<_> =
            p.cut(&data).into_iter().map(|(o, l)| blake3::hash(&data[o..o + l])).collect();
        let mut edited = data.clone();
        edited.splice(500_000..500_000, b"inserted!".iter().copied());
        let b: Vec<_> = p.cut(&edited).into_iter().map(|(o, l)| blake3::hash(&edited[o..o + l])).collect();
        let new = b.iter().filter(|h| !a.contains(h)).count();
        assert!(new <= 3, "{new} new chunks after a 9-byte insert");
        assert!(p.validate().is_ok());
        assert!(ChunkerParams { min: 10, avg: 8192, max: 32768 }.validate().is_err());
    }
}

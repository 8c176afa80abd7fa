//! Content-defined chunking with FastCDC (the 2020 algorithm, normalisation
//! level 1). Parameters are recorded in the repository config, since changing
//! them changes every chunk boundary and so defeats deduplication.

use crate::error::{Error, Result};
use crate::format::{CHUNK_AVG_LIMITS, CHUNK_MAX_LIMITS, CHUNK_MIN_LIMITS};
use serde::{Deserialize, Serialize};
use std::io::Read;

/// Bytes read from a source at a time (at least twice the maximum chunk).
const READ_BUFFER: usize = 8 << 20;

/// FastCDC sizes in bytes. Defaults (format-spec/parameters.md gives the
/// measurements behind them): min 128 KiB, average 512 KiB, max 2 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams { min: 128 << 10, avg: 512 << 10, max: 2 << 20 }
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

    /// Read `source` to its end and call `each` with every chunk in order,
    /// using `buf` as the read buffer.
    ///
    /// Reads into one buffer of at least twice the maximum chunk size; all
    /// chunks but the last in the buffer are final (their cut points depend
    /// only on bytes already read), the last is carried to the buffer's start
    /// and cut again with more data. Cut points equal those of chunking the
    /// whole stream at once. Returns the number of bytes read.
    pub fn for_each_chunk<R: Read, E: From<std::io::Error>>(
        &self,
        mut source: R,
        buf: &mut Vec<u8>,
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        let cap = (2 * self.max as usize).max(READ_BUFFER);
        // The caller keeps `buf` across files, so it is allocated once.
        buf.resize(cap, 0);
        let (mut filled, mut total, mut eof) = (0usize, 0u64, false);
        loop {
            while !eof && filled < cap {
                match source.read(&mut buf[filled..]) {
                    Ok(0) => eof = true,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let mut consumed = 0;
            for c in fastcdc::v2020::FastCDC::new(&buf[..filled], self.min, self.avg, self.max) {
                if !eof && c.offset + c.length == filled {
                    break; // may be cut by the buffer's end, not by content
                }
                each(&buf[c.offset..c.offset + c.length])?;
                consumed = c.offset + c.length;
            }
            total += consumed as u64;
            buf.copy_within(consumed..filled, 0);
            filled -= consumed;
            if eof && filled == 0 {
                return Ok(total);
            }
        }
    }

    /// Cut points of an in-memory buffer (used for tree streams and tests).
    pub fn cut(&self, data: &[u8]) -> Vec<(usize, usize)> {
        fastcdc::v2020::FastCDC::new(data, self.min, self.avg, self.max).map(|c| (c.offset, c.length)).collect()
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
        // Streaming through a small reader cuts exactly where the in-memory chunker does.
        let mut streamed = vec![];
        let n = p
            .for_each_chunk(std::io::Cursor::new(&edited), &mut vec![], |c| -> Result<(), std::io::Error> {
                streamed.push(blake3::hash(c));
                Ok(())
            })
            .unwrap();
        assert_eq!(n, edited.len() as u64);
        assert_eq!(streamed, b);
        assert!(ChunkerParams { min: 10, avg: 8192, max: 32768 }.validate().is_err());
    }
}

//! Checks of an RDB file before it is committed (format-spec/redis.md):
//! the `REDIS` magic and a 4-digit version, the EOF opcode (0xFF) right
//! before the 8-byte trailer, and the trailer: CRC-64 (Jones, as Redis
//! computes it: the `crc` crate's `CRC_64_REDIS`) of everything before it,
//! little-endian. A zero trailer means the server runs with
//! `rdbchecksum no`: accepted, and said.

use crc::{Crc, CRC_64_REDIS};

const CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

/// What the check found in a good RDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The RDB format version (`REDIS0011` → 11).
    pub version: u32,
    /// The CRC-64 trailer; 0 when the server writes no checksum.
    pub crc: u64,
}

/// Check `rdb`; the error says what is wrong.
pub fn check(rdb: &[u8]) -> Result<Checked, String> {
    if rdb.len() < 9 + 1 + 8 {
        return Err(format!("{} bytes, shorter than any RDB file", rdb.len()));
    }
    if &rdb[..5] != b"REDIS" || !rdb[5..9].iter().all(u8::is_ascii_digit) {
        return Err("no REDIS magic and version at its start".into());
    }
    let version: u32 = std::str::from_utf8(&rdb[5..9]).expect("digits").parse().expect("digits");
    let (body, trailer) = rdb.split_at(rdb.len() - 8);
    if body.last() != Some(&0xFF) {
        return Err("no end-of-file opcode before its checksum: the transfer was cut short".into());
    }
    let crc = u64::from_le_bytes(trailer.try_into().expect("8 bytes"));
    if crc != 0 {
        let got = CRC64.checksum(body);
        if got != crc {
            return Err(format!("CRC-64 {got:016x} differs from its trailer {crc:016x}: the data is damaged"));
        }
    }
    Ok(Checked { version, crc })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal RDB: header, EOF opcode, CRC-64 trailer.
    fn rdb() -> Vec<u8> {
        let mut b = b"REDIS0011\xfa\x09redis-ver\x067.0.15".to_vec();
        b.push(0xFF);
        let crc = CRC64.checksum(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    #[test]
    fn good_cut_damaged_and_unchecked() {
        let good = rdb();
        assert_eq!(check(&good).unwrap().version, 11);
        // Redis's documented check value of the Jones CRC-64.
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
        assert!(check(&good[..good.len() - 3]).unwrap_err().contains("cut short"));
        let mut bad = good.clone();
        bad[12] ^= 1;
        assert!(check(&bad).unwrap_err().contains("damaged"));
        let mut off = good.clone();
        let n = off.len();
        off[n - 8..].fill(0);
        assert_eq!(check(&off).unwrap().crc, 0);
        assert!(check(b"NOTREDIS0011\xff01234567").is_err());
    }
}

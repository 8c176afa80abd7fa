//! An RDB split into its keys, for loading into a running server with
//! `RESTORE` (format-spec/redis.md "Loading into a server"). Each entry is
//! found by walking the opcode and value encodings far enough to know
//! where it ends — nothing is decompressed or interpreted — and becomes a
//! `DUMP` payload: its type byte and value bytes as the file has them, the
//! file's RDB version (2 bytes, little-endian) and the CRC-64 of all that.
//!
//! Every length is checked against what is left, so a damaged file fails
//! with the offset, never a panic. Module values, module aux data and
//! Redis 7.4's hashes with field expiry are refused: they cannot be walked
//! without the module or a newer format.

use crc::{Crc, CRC_64_REDIS};

const CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

/// One key of an RDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub db: u64,
    pub key: Vec<u8>,
    /// Absolute expiry, ms since the epoch.
    pub expire_ms: Option<i64>,
    pub idle: Option<u64>,
    pub freq: Option<u8>,
    /// The `DUMP` payload `RESTORE` takes.
    pub payload: Vec<u8>,
}

/// The keys of `rdb`, and the function libraries' code (`FUNCTION LOAD`).
#[derive(Debug, Default)]
pub struct Entries {
    pub keys: Vec<Entry>,
    pub functions: Vec<Vec<u8>>,
}

struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| format!("length {n} at offset {} is impossible", self.at))?;
        if self.b.len() - self.at < n {
            return Err(format!("{n} bytes needed at offset {}, the file ends first", self.at));
        }
        self.at += n;
        Ok(&self.b[self.at - n..self.at])
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    /// A length, or `Err(special)` for a string's special encoding.
    fn len_or_special(&mut self) -> Result<Result<u64, u8>, String> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 if b == 0x80 => Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")) as u64),
            2 if b == 0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8"))),
            2 => return Err(format!("length byte {b:#04x} at offset {} is unknown", self.at - 1)),
            _ => Err(b & 0x3f),
        })
    }
    fn len(&mut self) -> Result<u64, String> {
        self.len_or_special()?.map_err(|s| format!("a string encoding {s} where a length belongs, offset {}", self.at))
    }
    /// Skip one string; its raw bytes when not specially encoded.
    fn string(&mut self) -> Result<&'a [u8], String> {
        match self.len_or_special()? {
            Ok(n) => self.take(n),
            Err(0) => self.take(1),
            Err(1) => self.take(2),
            Err(2) => self.take(4),
            Err(3) => {
                let (c, _u) = (self.len()?, self.len()?);
                self.take(c)
            }
            Err(s) => Err(format!("string encoding {s} at offset {} is unknown", self.at)),
        }
    }
    fn strings(&mut self, per: u64) -> Result<(), String> {
        let n = self.len()?;
        for _ in 0..n.saturating_mul(per) {
            self.string()?;
        }
        Ok(())
    }
}

/// Skip one value of type `t`.
fn value(c: &mut Cur, t: u8) -> Result<(), String> {
    match t {
        0 | 9..=13 | 16 | 17 | 20 => c.string().map(drop),
        1 | 2 | 14 => c.strings(1),
        4 => c.strings(2),
        3 => (0..c.len()?).try_for_each(|_| {
            c.string()?;
            let n = c.u8()?;
            c.take(if n >= 253 { 0 } else { n as u64 }).map(drop)
        }),
        5 => (0..c.len()?).try_for_each(|_| c.string().and_then(|_| c.take(8)).map(drop)),
        18 => (0..c.len()?).try_for_each(|_| c.len().and_then(|_| c.string()).map(drop)),
        15 | 19 | 21 => stream(c, t),
        6 | 7 => Err("a module value: load this dump with redis-server and the module instead".into()),
        t => Err(format!("value type {t} is unknown to this cairn (a newer Redis?): load the dump file instead")),
    }
}

/// Skip a stream (types 15, 19, 21: listpacks, then metadata, groups).
fn stream(c: &mut Cur, t: u8) -> Result<(), String> {
    c.strings(2)?;
    let lens = if t >= 19 { 3 + 5 } else { 3 };
    (0..lens).try_for_each(|_| c.len().map(drop))?;
    for _ in 0..c.len()? {
        c.string()?;
        (0..if t >= 19 { 3 } else { 2 }).try_for_each(|_| c.len().map(drop))?;
        for _ in 0..c.len()? {
            c.take(16 + 8)?;
            c.len()?;
        }
        for _ in 0..c.len()? {
            c.string()?;
            c.take(if t >= 21 { 16 } else { 8 })?;
            let pel = c.len()?;
            c.take(pel.saturating_mul(16))?;
        }
    }
    Ok(())
}

/// Split a checked RDB (magic, version, end opcode) into its keys.
pub fn split(rdb: &[u8], version: u32) -> Result<Entries, String> {
    if rdb.len() < 9 + 8 {
        return Err(format!("{} bytes, shorter than any RDB file", rdb.len()));
    }
    let body = &rdb[..rdb.len() - 8];
    let mut c = Cur { b: body, at: 9 };
    let mut out = Entries::default();
    let (mut db, mut expire_ms, mut idle, mut freq) = (0u64, None, None, None);
    loop {
        let op = c.u8()?;
        match op {
            0xFF => return Ok(out),
            0xFA => c.string().and_then(|_| c.string()).map(drop)?,
            0xFB => c.len().and_then(|_| c.len()).map(drop)?,
            0xFE => db = c.len()?,
            0xFC => expire_ms = Some(i64::from_le_bytes(c.take(8)?.try_into().expect("8"))),
            0xFD => expire_ms = Some(i32::from_le_bytes(c.take(4)?.try_into().expect("4")) as i64 * 1000),
            0xF8 => idle = Some(c.len()?),
            0xF9 => freq = Some(c.u8()?),
            0xF5 => out.functions.push(c.string()?.to_vec()),
            0xF4 => (0..3).try_for_each(|_| c.len().map(drop))?,
            0xF6 | 0xF7 => {
                return Err("functions of a pre-release format or module data: load the dump file instead".into())
            }
            t => {
                let key = c.string()?.to_vec();
                let start = c.at;
                value(&mut c, t)?;
                let mut payload = Vec::with_capacity(1 + c.at - start + 10);
                payload.push(t);
                payload.extend_from_slice(&body[start..c.at]);
                payload.extend_from_slice(&(version as u16).to_le_bytes());
                let crc = CRC64.checksum(&payload);
                payload.extend_from_slice(&crc.to_le_bytes());
                out.keys.push(Entry {
                    db,
                    key,
                    expire_ms: expire_ms.take(),
                    idle: idle.take(),
                    freq: freq.take(),
                    payload,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdb(body: &[u8]) -> Vec<u8> {
        let mut b = b"REDIS0010".to_vec();
        b.extend_from_slice(body);
        b.push(0xFF);
        b.extend_from_slice(&[0; 8]);
        b
    }

    #[test]
    fn keys_expiry_and_damage() {
        // aux, select 2, expiry, a string key "k" = "v", a set of two, EOF.
        let mut body = vec![0xFA, 3, b'a', b'u', b'x', 1, b'x', 0xFE, 2, 0xFC];
        body.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
        body.extend_from_slice(&[0, 1, b'k', 1, b'v', 2, 1, b's', 2, 1, b'a', 0xC0, 7]);
        let e = split(&rdb(&body), 10).unwrap();
        assert_eq!(e.keys.len(), 2);
        assert_eq!(
            (e.keys[0].db, e.keys[0].key.as_slice(), e.keys[0].expire_ms),
            (2, &b"k"[..], Some(1_700_000_000_000))
        );
        assert_eq!(&e.keys[0].payload[..3], &[0, 1, b'v']);
        assert_eq!(&e.keys[0].payload[3..5], &10u16.to_le_bytes());
        assert_eq!(e.keys[1].expire_ms, None);
        // Cut inside a value, an unknown type, a module: errors, not panics.
        let cut = &body[..body.len() - 2];
        assert!(split(&rdb(cut), 10).is_err());
        assert!(split(&rdb(&[30, 1, b'k']), 10).unwrap_err().contains("unknown"));
        assert!(split(&rdb(&[7, 1, b'k']), 10).unwrap_err().contains("module"));
        assert!(split(&rdb(&[0, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 10).is_err());
    }
}

//! Key files (`keys/<id>`): the master key wrapped under a key derived from
//! one password. A repository has one per password; any one unlocks it.
//!
//! `CAIRNKEY | version 1 | kdf 1 | memory_kib u32 | iterations u32 |
//! parallelism u32 | salt[16] | created_ns i64 | host (u16 len + bytes) |
//! user (u16 len + bytes) | nonce[24] | ciphertext(master key, 64) | tag[16]`,
//! little endian; everything before the nonce is the AEAD's associated data,
//! so no header field can be changed without detection.

use crate::format::FormatError;
use crate::seal::crypto::{self, KdfParams, MasterKey, NONCE_LEN, TAG_LEN};

pub const KEY_MAGIC: &[u8; 8] = b"CAIRNKEY";
const KEY_VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const SALT_LEN: usize = 16;

#[derive(Debug, Clone)]
pub struct KeyFile {
    pub params: KdfParams,
    pub salt: [u8; SALT_LEN],
    pub created_ns: i64,
    pub host: String,
    pub user: String,
    /// Bytes covered by the associated data, and the wrapped key.
    header: Vec<u8>,
    wrapped: Vec<u8>,
}

/// Wrap `master` under `password`; returns the key file's bytes.
pub fn create(
    master: &MasterKey,
    password: &[u8],
    params: KdfParams,
    host: &str,
    user: &str,
) -> Result<Vec<u8>, FormatError> {
    let mut salt = [0u8; SALT_LEN];
    crate::format::id::random_bytes(&mut salt);
    let mut h = KEY_MAGIC.to_vec();
    h.extend_from_slice(&[KEY_VERSION, KDF_ARGON2ID]);
    for v in [params.memory_kib, params.iterations, params.parallelism] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(&salt);
    h.extend_from_slice(&(jiff::Timestamp::now().as_nanosecond() as i64).to_le_bytes());
    for s in [host, user] {
        let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        h.extend_from_slice(&(b.len() as u16).to_le_bytes());
        h.extend_from_slice(b);
    }
    let kek = crypto::derive(password, &salt, &params)?;
    let wrapped = crypto::seal(&kek, &h, &master.to_bytes());
    h.extend_from_slice(&wrapped);
    Ok(h)
}

impl KeyFile {
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], FormatError> {
            let s = bytes.get(at..at + n).ok_or(FormatError::Truncated { len: bytes.len() })?;
            at += n;
            Ok(s)
        };
        if take(8)? != KEY_MAGIC {
            return Err(FormatError::Magic);
        }
        let (version, kdf) = (take(1)?[0], take(1)?[0]);
        if version != KEY_VERSION || kdf != KDF_ARGON2ID {
            return Err(FormatError::Decode(format!("unknown key file version {version} or KDF {kdf}")));
        }
        let mut u32s = [0u32; 3];
        for v in &mut u32s {
            *v = u32::from_le_bytes(take(4)?.try_into().unwrap());
        }
        let params = KdfParams { memory_kib: u32s[0], iterations: u32s[1], parallelism: u32s[2] };
        params.check().map_err(FormatError::Invalid)?;
        let salt: [u8; SALT_LEN] = take(SALT_LEN)?.try_into().unwrap();
        let created_ns = i64::from_le_bytes(take(8)?.try_into().unwrap());
        let mut strings = Vec::new();
        for _ in 0..2 {
            let n = u16::from_le_bytes(take(2)?.try_into().unwrap()) as usize;
            strings.push(String::from_utf8_lossy(take(n)?).into_owned());
        }
        let header_len = at;
        if bytes.len() != header_len + NONCE_LEN + 64 + TAG_LEN {
            return Err(FormatError::Truncated { len: bytes.len() });
        }
        Ok(KeyFile {
            params,
            salt,
            created_ns,
            user: strings.pop().unwrap_or_default(),
            host: strings.pop().unwrap_or_default(),
            header: bytes[..header_len].to_vec(),
            wrapped: bytes[header_len..].to_vec(),
        })
    }

    /// The master key, if `password` is this key file's.
    pub fn unlock(&self, password: &[u8]) -> Result<MasterKey, FormatError> {
        let kek = crypto::derive(password, &self.salt, &self.params)?;
        let raw = crypto::open(&kek, &self.header, &self.wrapped)?;
        MasterKey::from_bytes(&raw).ok_or(FormatError::Decode("master key has the wrong length".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_parse_unlock() {
        let m = MasterKey::random();
        let p = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
        let bytes = create(&m, b"pw", p, "host", "me").unwrap();
        let k = KeyFile::parse(&bytes).unwrap();
        assert_eq!((k.host.as_str(), k.user.as_str(), k.params), ("host", "me", p));
        assert_eq!(k.unlock(b"pw").unwrap().encrypt, m.encrypt);
        assert!(matches!(k.unlock(b"wrong"), Err(FormatError::Authentication)));
        for i in 8..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            if let Ok(k) = KeyFile::parse(&bad) {
                assert!(k.unlock(b"pw").is_err(), "flip at {i} undetected");
            }
        }
    }
}

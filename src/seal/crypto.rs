//! Keys and primitives of encrypted repositories: the master key, Argon2id
//! for passwords, the object AEAD (XAES-256-GCM by default, XChaCha20-Poly1305
//! on request; both RustCrypto, both with 24-byte random nonces), keyed BLAKE3
//! for ids. format-spec/encryption.md describes each and the threat model.

use crate::format::FormatError;
use chacha20poly1305::aead::{self, AeadInOut, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xaes_256_gcm::Xaes256Gcm;

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;

/// The repository's secret: one key for the AEAD, one for chunk ids.
#[derive(Clone)]
pub struct MasterKey {
    pub encrypt: [u8; 32],
    pub id: [u8; 32],
}

impl MasterKey {
    pub fn random() -> Self {
        let mut k = MasterKey { encrypt: [0; 32], id: [0; 32] };
        crate::format::id::random_bytes(&mut k.encrypt);
        crate::format::id::random_bytes(&mut k.id);
        k
    }
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[..32].copy_from_slice(&self.encrypt);
        b[32..].copy_from_slice(&self.id);
        b
    }
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 64 {
            return None;
        }
        Some(MasterKey { encrypt: b[..32].try_into().ok()?, id: b[32..].try_into().ok()? })
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        // Best effort: do not leave key bytes in freed memory.
        self.encrypt.iter_mut().chain(self.id.iter_mut()).for_each(|b| unsafe { std::ptr::write_volatile(b, 0) });
    }
}

/// Argon2id cost parameters, recorded in every key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 12 passes, 1 lane: about half a second on this project's
    /// 2-core machine (format-spec/encryption.md).
    fn default() -> Self {
        KdfParams { memory_kib: 64 * 1024, iterations: 12, parallelism: 1 }
    }
}

/// Argon2id memory accepted in a key file, KiB: 8 KiB (Argon2's floor) to 1 GiB.
pub const KDF_MEMORY_KIB: (u32, u32) = (8, 1 << 20);
/// Argon2id passes accepted in a key file.
pub const KDF_ITERATIONS: (u32, u32) = (1, 256);
/// Argon2id lanes accepted in a key file.
pub const KDF_PARALLELISM: (u32, u32) = (1, 16);

impl KdfParams {
    /// Costs no real key file has are refused, for new keys and when read,
    /// so a damaged or hostile key file cannot make an unlock take hours or
    /// all memory. The error names the parameter.
    pub fn check(&self) -> Result<(), String> {
        let within = |v: u32, (lo, hi): (u32, u32), what: &str| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("Argon2id {what} {v} is outside {lo}..={hi}"))
            }
        };
        within(self.memory_kib, KDF_MEMORY_KIB, "memory (KiB)")?;
        within(self.iterations, KDF_ITERATIONS, "passes")?;
        within(self.parallelism, KDF_PARALLELISM, "lanes")
    }
}

/// The 32-byte key that wraps the master key in a key file.
pub fn derive(password: &[u8], salt: &[u8], p: &KdfParams) -> Result<[u8; 32], FormatError> {
    p.check().map_err(FormatError::Invalid)?;
    let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| FormatError::Decode(format!("Argon2id parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon.hash_password_into(password, salt, &mut out).map_err(|e| FormatError::Decode(format!("Argon2id: {e}")))?;
    Ok(out)
}

/// The AEAD that seals a repository's objects, named in its config. Both take
/// a 24-byte nonce, so random nonces are safe for any number of objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// AES-256-GCM with a per-nonce derived key (C2SP XAES-256-GCM): 3.4 GB/s
    /// with AES-NI here, so the default.
    Xaes256Gcm,
    /// Faster than AES where the CPU has no AES instructions (1.3 GB/s here).
    XChaCha20Poly1305,
}

impl Cipher {
    /// The envelope version byte of objects sealed with this cipher.
    pub fn envelope_version(self) -> u8 {
        match self {
            Cipher::XChaCha20Poly1305 => crate::format::SEAL_VERSION_XCHACHA,
            Cipher::Xaes256Gcm => crate::format::SEAL_VERSION_XAES,
        }
    }

    pub fn from_envelope_version(v: u8) -> Option<Self> {
        [Cipher::XChaCha20Poly1305, Cipher::Xaes256Gcm].into_iter().find(|c| c.envelope_version() == v)
    }
}

/// The master key together with the object AEAD, keyed once per repository.
pub struct ObjectKey {
    pub master: Arc<MasterKey>,
    pub cipher: Cipher,
    aead: ObjectAead,
}

enum ObjectAead {
    XChaCha(XChaCha20Poly1305),
    // Boxed: the expanded AES key schedule is large.
    Xaes(Box<Xaes256Gcm>),
}

impl ObjectKey {
    pub fn new(master: Arc<MasterKey>, cipher: Cipher) -> Self {
        let aead = match cipher {
            Cipher::XChaCha20Poly1305 => ObjectAead::XChaCha(XChaCha20Poly1305::new(&master.encrypt.into())),
            Cipher::Xaes256Gcm => ObjectAead::Xaes(Box::new(Xaes256Gcm::new(&master.encrypt.into()))),
        };
        ObjectKey { master, cipher, aead }
    }

    /// See [`seal_in_place`].
    pub fn seal_in_place(&self, aad: &[u8], buf: &mut Vec<u8>, start: usize) {
        match &self.aead {
            ObjectAead::XChaCha(a) => seal_in_place_with(a, aad, buf, start),
            ObjectAead::Xaes(a) => seal_in_place_with(&**a, aad, buf, start),
        }
    }

    /// See [`open`].
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
        match &self.aead {
            ObjectAead::XChaCha(a) => open_with(a, aad, sealed),
            ObjectAead::Xaes(a) => open_with(&**a, aad, sealed),
        }
    }
}

/// Encrypt `buf[start + NONCE_LEN..]` in place: writes a fresh random nonce
/// at `buf[start..start + NONCE_LEN]` and appends the tag, so the result is
/// `buf[..start] || nonce || ciphertext || tag` without copying the payload.
fn seal_in_place_with<A: AeadInOut>(aead: &A, aad: &[u8], buf: &mut Vec<u8>, start: usize) {
    let mut nonce = [0u8; NONCE_LEN];
    crate::format::id::random_bytes(&mut nonce);
    buf[start..start + NONCE_LEN].copy_from_slice(&nonce);
    let nonce = aead::Nonce::<A>::try_from(&nonce[..]).expect("24-byte nonce");
    let tag = aead
        .encrypt_inout_detached(&nonce, aad, (&mut buf[start + NONCE_LEN..]).into())
        .expect("encryption cannot fail");
    buf.extend_from_slice(&tag);
}

/// Open `nonce || ciphertext || tag`; any change to it or to `aad` fails.
fn open_with<A: AeadInOut>(aead: &A, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(FormatError::Truncated { len: sealed.len() });
    }
    let (body, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    let nonce = aead::Nonce::<A>::try_from(&body[..NONCE_LEN]).expect("24-byte nonce");
    let tag = aead::Tag::<A>::try_from(tag).expect("16-byte tag");
    let mut out = body[NONCE_LEN..].to_vec();
    aead.decrypt_inout_detached(&nonce, aad, (&mut out[..]).into(), &tag).map_err(|_| FormatError::Authentication)?;
    Ok(out)
}

/// `nonce || ciphertext || tag` under XChaCha20-Poly1305, with a fresh random
/// nonce: the key-file wrap, which does not depend on the repository's cipher.
pub fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&[0u8; NONCE_LEN]);
    out.extend_from_slice(plaintext);
    seal_in_place_with(&XChaCha20Poly1305::new(key.into()), aad, &mut out, 0);
    out
}

/// Open what [`seal`] made; any change to it or to `aad` fails.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
    open_with(&XChaCha20Poly1305::new(key.into()), aad, sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_tamper() {
        let k = MasterKey::random();
        let s = seal(&k.encrypt, b"aad", b"secret");
        assert_eq!(open(&k.encrypt, b"aad", &s).unwrap(), b"secret");
        assert!(open(&k.encrypt, b"other", &s).is_err());
        for i in 0..s.len() {
            let mut bad = s.clone();
            bad[i] ^= 1;
            assert!(matches!(open(&k.encrypt, b"aad", &bad), Err(FormatError::Authentication)));
        }
        assert_eq!(MasterKey::from_bytes(&k.to_bytes()).unwrap().id, k.id);
    }

    #[test]
    #[ignore = "timing; run to re-measure the default KDF cost"]
    fn default_kdf_cost() {
        let t = std::time::Instant::now();
        derive(b"password", &[0u8; 16], &KdfParams::default()).unwrap();
        eprintln!("Argon2id default: {:?}", t.elapsed());
    }
}

#[cfg(test)]
mod speed {
    use super::*;

    #[test]
    #[ignore = "throughput; run by hand"]
    fn aead_throughput() {
        let k = Arc::new(MasterKey::random());
        let mut buf = vec![7u8; 25 + (1 << 20)];
        for cipher in [Cipher::Xaes256Gcm, Cipher::XChaCha20Poly1305] {
            let key = ObjectKey::new(k.clone(), cipher);
            let t = std::time::Instant::now();
            for _ in 0..256 {
                buf.truncate(25 + (1 << 20));
                key.seal_in_place(b"a", &mut buf, 1);
            }
            eprintln!("{cipher:?}: {:.0} MB/s", 256.0 * 1.048576 / t.elapsed().as_secs_f64());
        }
        let t = std::time::Instant::now();
        for _ in 0..256 {
            std::hint::black_box(blake3::hash(&buf));
        }
        eprintln!("blake3: {:.0} MB/s", 256.0 * 1.048576 / t.elapsed().as_secs_f64());
    }
}

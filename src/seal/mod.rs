//! The one sealing step every stored object passes through: compression,
//! then either an integrity check (plaintext repositories, envelope 1) or
//! authenticated encryption (envelope 2). Nothing else in the crate
//! compresses, encrypts or checks object bytes, and chunk ids are computed
//! here too (keyed BLAKE3 in encrypted repositories).
//!
//! Envelope 1 (format-spec/objects.md):
//! `1 | kind u8 | codec u8 | 0 u8 | raw_len u32 LE | payload | check[16]`
//! where `check` is the first 16 bytes of BLAKE3 over everything before it.
//! Envelopes 2 and 3 (format-spec/encryption.md):
//! `v | nonce[24] | AEAD(codec u8 | raw_len u32 LE | payload) | tag[16]`
//! with associated data `[v, kind]`; v = 2 is XChaCha20-Poly1305, v = 3 is
//! XAES-256-GCM, and a repository accepts only the one its config names.

pub mod crypto;
pub mod dict;
pub mod keyfile;

use crate::format::id::Id;
use crate::format::FormatError;
use crate::format::*;
use crypto::{Cipher, MasterKey, ObjectKey};
use dict::{Dict, Dicts};
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    // zstd contexts are reused per thread: creating one per object cost more
    // than compressing a 1 MiB chunk at level 1 (measured with perf).
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    // Contexts bound to one repository's dictionary, kept while it is used.
    static DICT_COMPRESSOR: RefCell<Option<WithDict<zstd::bulk::Compressor<'static>>>> = const { RefCell::new(None) };
    static DICT_DECOMPRESSOR: RefCell<Option<WithDict<zstd::bulk::Decompressor<'static>>>> = const { RefCell::new(None) };
}

/// A zstd context that borrows a dictionary's prepared form, kept together
/// with the `Arc` that owns it. Fields drop in order: the context first.
struct WithDict<C> {
    ctx: C,
    dict: Arc<Dict>,
}

/// The prepared dictionaries of `d`, for as long as the caller holds `d`.
fn prepared(
    d: &Arc<Dict>,
) -> (&'static zstd::dict::EncoderDictionary<'static>, &'static zstd::dict::DecoderDictionary<'static>) {
    // SAFETY: the dictionaries live inside the Arc's allocation, which never
    // moves and is freed only when the last Arc goes. Every context made
    // from these references is stored in a `WithDict` next to a clone of
    // that Arc and is dropped before it (field order), so no reference
    // outlives the allocation.
    unsafe { (&*(&d.encoder as *const _), &*(&d.decoder as *const _)) }
}

fn compress_with(dict: &Arc<Dict>, raw: &[u8]) -> Option<Vec<u8>> {
    DICT_COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_none_or(|w| !Arc::ptr_eq(&w.dict, dict)) {
            // Drop the old context before its dictionary, then make the new one.
            *c = None;
            let ctx = zstd::bulk::Compressor::with_prepared_dictionary(prepared(dict).0).ok()?;
            *c = Some(WithDict { ctx, dict: dict.clone() });
        }
        c.as_mut()?.ctx.compress(raw).ok()
    })
}

fn decompress_with(dict: &Arc<Dict>, payload: &[u8], raw_len: usize) -> Result<Vec<u8>, FormatError> {
    DICT_DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.as_ref().is_none_or(|w| !Arc::ptr_eq(&w.dict, dict)) {
            *d = None;
            let ctx = zstd::bulk::Decompressor::with_prepared_dictionary(prepared(dict).1)
                .map_err(|e| FormatError::Decompress(e.to_string()))?;
            *d = Some(WithDict { ctx, dict: dict.clone() });
        }
        let w = d.as_mut().expect("set");
        w.ctx.decompress(payload, raw_len).map_err(|e| FormatError::Decompress(e.to_string()))
    })
}

fn compress(level: i32, raw: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_none_or(|(l, _)| *l != level) {
            *c = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        c.as_mut()?.1.compress(raw).ok()
    })
}

fn decompress(payload: &[u8], raw_len: usize) -> Result<Vec<u8>, FormatError> {
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new().map_err(|e| FormatError::Decompress(e.to_string()))?);
        }
        d.as_mut().expect("set").decompress(payload, raw_len).map_err(|e| FormatError::Decompress(e.to_string()))
    })
}

/// How objects are compressed, and encrypted, when sealed.
#[derive(Clone)]
pub struct Sealer {
    /// zstd level; 0 disables compression.
    pub level: i32,
    key: Option<Arc<ObjectKey>>,
    /// The repository's dictionaries, shared by every clone of this sealer.
    dicts: Arc<Dicts>,
}

impl Sealer {
    /// A sealer for a plaintext repository.
    pub fn new(level: i32) -> Self {
        Sealer { level, key: None, dicts: Default::default() }
    }

    /// A sealer for an encrypted repository.
    pub fn encrypted(level: i32, key: Arc<MasterKey>, cipher: Cipher) -> Self {
        Sealer { level, key: Some(Arc::new(ObjectKey::new(key, cipher))), dicts: Default::default() }
    }

    /// Encrypting iff `key` is given.
    pub fn with_key(level: i32, key: Option<(Arc<MasterKey>, Cipher)>) -> Self {
        match key {
            Some((k, c)) => Sealer::encrypted(level, k, c),
            None => Sealer::new(level),
        }
    }

    /// The dictionaries blobs sealed with codec 2 may name.
    pub fn dicts(&self) -> &Dicts {
        &self.dicts
    }

    pub fn is_encrypted(&self) -> bool {
        self.key.is_some()
    }

    pub fn key(&self) -> Option<&Arc<MasterKey>> {
        self.key.as_ref().map(|k| &k.master)
    }

    /// The key ids are hashed with (none for a plaintext repository): two
    /// repositories with the same one name every chunk alike, so `copy`
    /// moves blobs between them without rewriting trees.
    pub fn id_key(&self) -> Option<[u8; 32]> {
        self.key.as_ref().map(|k| k.master.id)
    }

    /// The id of a chunk, tree or snapshot: BLAKE3 of its plaintext, keyed
    /// with the repository's id key when encrypted (so the storage holder
    /// cannot test whether a known file is stored).
    pub fn id(&self, data: &[u8]) -> Id {
        match &self.key {
            Some(k) => Id(*blake3::keyed_hash(&k.master.id, data).as_bytes()),
            None => Id::hash(data),
        }
    }

    /// Seal `raw` as an object of `kind`. Payloads that zstd does not shrink are
    /// stored uncompressed, so incompressible data costs no decompression time.
    pub fn seal(&self, kind: ObjectKind, raw: &[u8]) -> Vec<u8> {
        self.seal_with(kind, raw, None)
    }

    /// `seal`, compressing with `dict` when given (codec 2: the payload is
    /// the dictionary's 8-byte tag, then a zstd frame made with it).
    pub fn seal_with(&self, kind: ObjectKind, raw: &[u8], dict: Option<&Arc<Dict>>) -> Vec<u8> {
        assert!(raw.len() <= MAX_SEALED_RAW, "object larger than 4 GiB");
        let compressed = match dict {
            _ if self.level == 0 => None,
            Some(d) => compress_with(d, raw).map(|f| (CODEC_ZSTD_DICT, [&d.tag()[..], &f].concat())),
            None => compress(self.level, raw).map(|f| (CODEC_ZSTD, f)),
        };
        let (codec, payload): (u8, &[u8]) = match &compressed {
            Some((codec, c)) if c.len() < raw.len() => (*codec, c),
            _ => (CODEC_NONE, raw),
        };
        if let Some(k) = &self.key {
            // version | nonce (filled in) | codec | raw_len | payload, then
            // encrypted in place after the nonce, tag appended.
            let mut out = Vec::with_capacity(1 + crypto::NONCE_LEN + 5 + payload.len() + crypto::TAG_LEN);
            let version = k.cipher.envelope_version();
            out.push(version);
            out.extend_from_slice(&[0u8; crypto::NONCE_LEN]);
            out.push(codec);
            out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            out.extend_from_slice(payload);
            k.seal_in_place(&[version, kind as u8], &mut out, 1);
            return out;
        }
        let mut out = Vec::with_capacity(SEAL_HEADER_LEN + payload.len() + SEAL_CHECK_LEN);
        out.extend_from_slice(&[SEAL_VERSION, kind as u8, codec, 0]);
        out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
        let check = blake3::hash(&out);
        out.extend_from_slice(&check.as_bytes()[..SEAL_CHECK_LEN]);
        out
    }

    /// Check and open an envelope that must hold an object of `kind`. An
    /// encrypted repository accepts only encrypted envelopes, so nobody can
    /// slip a plaintext object into it.
    pub fn unseal(&self, kind: ObjectKind, sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
        let version = sealed.first().copied();
        match (version, &self.key) {
            (Some(v), Some(k)) if v == k.cipher.envelope_version() => {
                let inner = k.open(&[v, kind as u8], &sealed[1..])?;
                if inner.len() < 5 {
                    return Err(FormatError::Truncated { len: inner.len() });
                }
                let raw_len = u32::from_le_bytes(inner[1..5].try_into().unwrap()) as usize;
                self.decode_payload(inner[0], &inner[5..], raw_len)
            }
            (Some(v), None) if Cipher::from_envelope_version(v).is_some() => Err(FormatError::NeedKey),
            // In an encrypted repository anything else fails authentication,
            // including a plaintext envelope, or one of the other cipher,
            // someone put there.
            (_, Some(_)) => Err(FormatError::Authentication),
            _ => self.unseal_plain(kind, sealed),
        }
    }

    fn decode_payload(&self, codec: u8, payload: &[u8], raw_len: usize) -> Result<Vec<u8>, FormatError> {
        // The decompressor allocates the recorded length up front: a length no
        // zstd frame of this size can produce is refused before that.
        if codec != CODEC_NONE && raw_len > payload.len().saturating_mul(ZSTD_MAX_EXPANSION) {
            return Err(FormatError::Length { want: raw_len, got: payload.len().saturating_mul(ZSTD_MAX_EXPANSION) });
        }
        let raw = match codec {
            CODEC_NONE => payload.to_vec(),
            CODEC_ZSTD => decompress(payload, raw_len)?,
            CODEC_ZSTD_DICT => {
                let tag: [u8; 8] =
                    payload.get(..8).ok_or(FormatError::Truncated { len: payload.len() })?.try_into().unwrap();
                let d = self.dicts.get(&tag).ok_or_else(|| {
                    FormatError::Decode(format!(
                        "needs dictionary {}… which is missing or damaged (see `cairn check`)",
                        hex::encode(tag)
                    ))
                })?;
                decompress_with(&d, &payload[8..], raw_len)?
            }
            c => return Err(FormatError::Codec(c)),
        };
        if raw.len() != raw_len {
            return Err(FormatError::Length { want: raw_len, got: raw.len() });
        }
        Ok(raw)
    }

    /// Check and open a plaintext envelope (envelope 1).
    fn unseal_plain(&self, kind: ObjectKind, sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
        if sealed.len() < SEAL_HEADER_LEN + SEAL_CHECK_LEN {
            return Err(FormatError::Truncated { len: sealed.len() });
        }
        if sealed[0] != SEAL_VERSION {
            return Err(FormatError::EnvelopeVersion(sealed[0]));
        }
        let body = &sealed[..sealed.len() - SEAL_CHECK_LEN];
        let check = &sealed[sealed.len() - SEAL_CHECK_LEN..];
        if &blake3::hash(body).as_bytes()[..SEAL_CHECK_LEN] != check {
            return Err(FormatError::Checksum);
        }
        if sealed[1] != kind as u8 {
            return Err(FormatError::WrongKind { expected: kind.name(), found: sealed[1] });
        }
        let raw_len = u32::from_le_bytes(sealed[4..8].try_into().unwrap()) as usize;
        self.decode_payload(sealed[2], &body[SEAL_HEADER_LEN..], raw_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = Sealer::new(3);
        let raw = b"hello hello hello hello hello hello hello".repeat(10);
        let sealed = s.seal(ObjectKind::Data, &raw);
        assert!(sealed.len() < raw.len());
        assert_eq!(s.unseal(ObjectKind::Data, &sealed).unwrap(), raw);
        assert!(matches!(s.unseal(ObjectKind::Tree, &sealed), Err(FormatError::WrongKind { .. })));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            assert!(s.unseal(ObjectKind::Data, &bad).is_err(), "flip at {i} undetected");
        }
    }

    #[test]
    fn encrypted_round_trip_tamper_and_mixing() {
        let key = Arc::new(MasterKey::random());
        let e = Sealer::encrypted(3, key.clone(), Cipher::Xaes256Gcm);
        let raw = b"secret script text, secret script text".repeat(20);
        let sealed = e.seal(ObjectKind::Snapshot, &raw);
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(e.unseal(ObjectKind::Snapshot, &sealed).unwrap(), raw);
        assert!(matches!(e.unseal(ObjectKind::Index, &sealed), Err(FormatError::Authentication)));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(e.unseal(ObjectKind::Snapshot, &bad).is_err(), "flip at {i} undetected");
        }
        let plain = Sealer::new(3);
        assert!(matches!(plain.unseal(ObjectKind::Snapshot, &sealed), Err(FormatError::NeedKey)));
        let p = plain.seal(ObjectKind::Snapshot, &raw);
        assert!(matches!(e.unseal(ObjectKind::Snapshot, &p), Err(FormatError::Authentication)));
        assert_ne!(e.id(&raw), plain.id(&raw));
        assert_eq!(e.id(&raw), Sealer::encrypted(0, key.clone(), Cipher::Xaes256Gcm).id(&raw));
        // Same key, other cipher: each refuses the other's envelopes.
        let x = Sealer::encrypted(3, key, Cipher::XChaCha20Poly1305);
        let xs = x.seal(ObjectKind::Snapshot, &raw);
        assert_eq!((sealed[0], xs[0]), (SEAL_VERSION_XAES, SEAL_VERSION_XCHACHA));
        assert_eq!(x.unseal(ObjectKind::Snapshot, &xs).unwrap(), raw);
        assert!(matches!(x.unseal(ObjectKind::Snapshot, &sealed), Err(FormatError::Authentication)));
        assert!(matches!(e.unseal(ObjectKind::Snapshot, &xs), Err(FormatError::Authentication)));
    }

    #[test]
    fn incompressible_is_stored() {
        let mut raw = vec![0u8; 4096];
        crate::format::id::random_bytes(&mut raw);
        let sealed = Sealer::new(3).seal(ObjectKind::Data, &raw);
        assert_eq!(sealed[2], CODEC_NONE);
        assert_eq!(Sealer::new(3).unseal(ObjectKind::Data, &sealed).unwrap(), raw);
    }
}

#[cfg(test)]
mod dict_tests {
    use super::*;

    #[test]
    fn dictionary_round_trip_tamper_and_missing() {
        let samples: Vec<Vec<u8>> = (0..600u32)
            .map(|i| {
                format!("INT. KITCHEN - NIGHT {i}. She opens the door. {} ", "Rain on the window. ".repeat(20))
                    .into_bytes()
            })
            .collect();
        let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
        let bytes = crate::seal::dict::train(&refs).expect("trains");
        for s in [Sealer::new(3), Sealer::encrypted(3, Arc::new(MasterKey::random()), Cipher::Xaes256Gcm)] {
            let d = &s.dicts().insert(Id::hash(&bytes), bytes.clone(), 3);
            let page = samples[7].clone();
            let with = s.seal_with(ObjectKind::Data, &page, Some(d));
            let without = s.seal(ObjectKind::Data, &page);
            assert!(with.len() < without.len(), "{} vs {}", with.len(), without.len());
            assert_eq!(s.unseal(ObjectKind::Data, &with).unwrap(), page);
            for i in 0..with.len() {
                let mut bad = with.clone();
                bad[i] ^= 0x10;
                assert!(s.unseal(ObjectKind::Data, &bad).is_err(), "flip at {i} undetected");
            }
        }
        // A blob naming a dictionary nobody registered fails with a clear error.
        let plain = Sealer::new(0);
        let mut raw = vec![1u8, ObjectKind::Data as u8, CODEC_ZSTD_DICT, 0];
        raw.extend_from_slice(&8u32.to_le_bytes());
        raw.extend_from_slice(&[0xEE; 8]);
        raw.extend_from_slice(b"frame");
        let check = blake3::hash(&raw);
        raw.extend_from_slice(&check.as_bytes()[..SEAL_CHECK_LEN]);
        let err = plain.unseal(ObjectKind::Data, &raw).unwrap_err().to_string();
        assert!(err.contains("dictionary eeeeeeeeeeeeeeee"), "{err}");
        // Dictionaries belong to one sealer (one repository), not the process.
        let a = Sealer::new(3);
        let d = a.dicts().insert(Id::hash(&bytes), bytes.clone(), 3);
        let sealed = a.seal_with(ObjectKind::Data, &samples[3], Some(&d));
        assert_eq!(a.unseal(ObjectKind::Data, &sealed).unwrap(), samples[3]);
        assert!(Sealer::new(3).unseal(ObjectKind::Data, &sealed).is_err(), "another repository saw the dictionary");
        assert!(a.clone().unseal(ObjectKind::Data, &sealed).is_ok(), "clones share their repository's dictionaries");
    }
}

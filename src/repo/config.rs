//! The repository `config` object: format version, repository id, chunker,
//! compression, pack parameters and whether the repository is encrypted.
//! Written once by `init`, never rewritten.
//!
//! Layout: `CAIRNCFG | version u32 LE | envelope(Config, bincode(Config))`.
//! The envelope is encrypted in an encrypted repository, so only the magic
//! and the version are readable without a key.

use crate::chunker::ChunkerParams;
use crate::error::{Error, FormatError, Result};
use crate::format::decode::{self, Validate};
use crate::format::id::Id;
use crate::format::*;
use crate::seal::crypto::{Cipher, MasterKey};
use crate::seal::Sealer;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encryption {
    /// Plaintext on purpose (`init --no-encryption`); objects carry a checksum.
    None,
    /// XChaCha20-Poly1305 for every object, keyed BLAKE3 for chunk ids.
    XChaCha20Poly1305,
    /// XAES-256-GCM for every object, keyed BLAKE3 for chunk ids (default).
    Xaes256Gcm,
}

impl Encryption {
    pub fn cipher(self) -> Option<Cipher> {
        match self {
            Encryption::None => None,
            Encryption::XChaCha20Poly1305 => Some(Cipher::XChaCha20Poly1305),
            Encryption::Xaes256Gcm => Some(Cipher::Xaes256Gcm),
        }
    }

    pub fn from_cipher(c: Option<Cipher>) -> Self {
        match c {
            None => Encryption::None,
            Some(Cipher::XChaCha20Poly1305) => Encryption::XChaCha20Poly1305,
            Some(Cipher::Xaes256Gcm) => Encryption::Xaes256Gcm,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub version: u32,
    pub id: Id,
    pub chunker: ChunkerParams,
    /// zstd level used when sealing (0 = no compression).
    pub compression_level: i32,
    /// A pack is closed once it holds at least this many bytes.
    pub pack_size: u32,
    /// Creation time, nanoseconds since the Unix epoch (UTC).
    pub created_ns: i64,
    pub encryption: Encryption,
}

/// The version 1 layout (no `encryption` field), still read.
#[derive(Deserialize)]
struct ConfigV1 {
    version: u32,
    id: Id,
    chunker: ChunkerParams,
    compression_level: i32,
    pack_size: u32,
    created_ns: i64,
}

/// Default zstd level (format-spec/parameters.md: level 3 costs about 10% more
/// time than level 1 on new data and stores 2% less; level 6 doubles the time
/// and stores no less).
pub const DEFAULT_COMPRESSION: i32 = 3;
/// Default pack target: 16 MiB. Few enough objects for an object store (64
/// PUTs per GiB), small enough that a restore of one file wastes little.
pub const DEFAULT_PACK_SIZE: u32 = 16 << 20;

/// Parameters every config must satisfy, whether given to `init` or read
/// back: fastcdc and zstd assert on values outside these ranges.
fn check_parameters(chunker: &ChunkerParams, compression_level: i32, pack_size: u32) -> Result<()> {
    chunker.validate()?;
    if !(0..=22).contains(&compression_level) {
        return Err(Error::InvalidArgument(format!(
            "compression level {compression_level} is out of range: use 0 (off) to 22"
        )));
    }
    if !(64 << 10..=1 << 30).contains(&pack_size) {
        return Err(Error::InvalidArgument(format!("pack size {pack_size} is out of range: use 64 KiB to 1 GiB")));
    }
    Ok(())
}

impl Validate for Config {
    fn validate(&self) -> std::result::Result<(), String> {
        if !(1..=REPO_VERSION).contains(&self.version) {
            return Err(format!("format version {} is unknown", self.version));
        }
        check_parameters(&self.chunker, self.compression_level, self.pack_size).map_err(|e| e.to_string())
    }
}

impl Validate for ConfigV1 {
    /// Checked once converted (`Config::decode`).
    fn validate(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// The oldest format `init` creates (older ones are read and written, not created).
pub const OLDEST_WRITTEN: u32 = 4;

impl Config {
    pub fn new(chunker: ChunkerParams, compression_level: i32, pack_size: u32) -> Result<Self> {
        check_parameters(&chunker, compression_level, pack_size)?;
        Ok(Config {
            version: REPO_VERSION,
            id: Id::random(),
            chunker,
            compression_level,
            pack_size,
            created_ns: jiff::Timestamp::now().as_nanosecond() as i64,
            encryption: Encryption::None,
        })
    }

    /// The same configuration in format `version`, one this build writes
    /// (`OLDEST_WRITTEN` to `REPO_VERSION`).
    pub fn with_version(mut self, version: u32) -> Result<Self> {
        if !(OLDEST_WRITTEN..=REPO_VERSION).contains(&version) {
            return Err(Error::InvalidArgument(format!(
                "repository version {version} is not one this build creates: choose {OLDEST_WRITTEN} to {REPO_VERSION}"
            )));
        }
        self.version = version;
        Ok(self)
    }

    /// The sealer for this repository's objects.
    pub fn sealer(&self, key: Option<Arc<MasterKey>>) -> Sealer {
        let cipher = self.encryption.cipher();
        Sealer::with_key(self.compression_level, key.zip(cipher))
    }

    /// Encode, sealed with `sealer` (encrypted iff the repository is).
    pub fn encode(&self, sealer: &Sealer) -> Vec<u8> {
        let mut out = CONFIG_MAGIC.to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        let body = decode::encode(self);
        out.extend_from_slice(&sealer.seal(ObjectKind::Config, &body));
        out
    }

    /// Decode; an encrypted config needs `key` (`FormatError::NeedKey` otherwise).
    pub fn decode(bytes: &[u8], key: Option<Arc<MasterKey>>) -> Result<Self> {
        let bad = |e| Error::format(KEY_CONFIG, e);
        if bytes.len() < 12 || &bytes[..8] != CONFIG_MAGIC {
            return Err(bad(FormatError::Magic));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        if version > REPO_VERSION {
            return Err(Error::NewerFormat { found: version, supported: REPO_VERSION });
        }
        // The config names the cipher, so its own envelope's version byte says
        // which cipher to open it with; the decoded field must then agree.
        let cipher = key.as_ref().map(|_| Cipher::from_envelope_version(bytes[12..].first().copied().unwrap_or(0)));
        let cipher = match cipher {
            Some(None) => return Err(bad(FormatError::Authentication)),
            Some(Some(c)) => Some(c),
            None => None,
        };
        let body = Sealer::with_key(0, key.zip(cipher)).unseal(ObjectKind::Config, &bytes[12..]).map_err(bad)?;
        let cfg = if version == 1 {
            let v1: ConfigV1 = decode::decode(&body).map_err(bad)?;
            Config {
                version: v1.version,
                id: v1.id,
                chunker: v1.chunker,
                compression_level: v1.compression_level,
                pack_size: v1.pack_size,
                created_ns: v1.created_ns,
                encryption: Encryption::None,
            }
        } else {
            decode::decode(&body).map_err(bad)?
        };
        cfg.validate().map_err(|e| bad(FormatError::Invalid(e)))?;
        if cfg.version != version || cfg.encryption.cipher() != cipher {
            return Err(bad(FormatError::Decode("config fields disagree with its envelope (edited?)".into())));
        }
        Ok(cfg)
    }
}

//! `cairn init`

use anyhow::Result;
use cairn::chunker::ChunkerParams;
use cairn::config::{Config, DEFAULT_COMPRESSION, DEFAULT_PACK_SIZE};
use cairn::crypto::{Cipher, KdfParams};
use cairn::repo::NewKey;
use cairn::Repository;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// zstd level for everything stored (0 = off, 1..=22).
    #[arg(long, default_value_t = DEFAULT_COMPRESSION)]
    compression: i32,
    /// Target pack size in bytes.
    #[arg(long, default_value_t = DEFAULT_PACK_SIZE)]
    pack_size: u32,
    /// Minimum chunk size in bytes (FastCDC).
    #[arg(long, default_value_t = ChunkerParams::default().min)]
    chunk_min: u32,
    /// Average chunk size in bytes (FastCDC).
    #[arg(long, default_value_t = ChunkerParams::default().avg)]
    chunk_avg: u32,
    /// Maximum chunk size in bytes (FastCDC).
    #[arg(long, default_value_t = ChunkerParams::default().max)]
    chunk_max: u32,
    /// Create a plaintext repository on purpose: anyone who can read the
    /// storage can read the data.
    #[arg(long, conflicts_with = "cipher")]
    no_encryption: bool,
    /// The AEAD for every object: XAES-256-GCM (AES-256-GCM with a derived
    /// key per nonce; fastest with AES instructions) or XChaCha20-Poly1305
    /// (fastest without them).
    #[arg(long, value_enum, default_value_t = Cipher::Xaes256Gcm)]
    cipher: Cipher,
    /// Argon2id memory in KiB for the first key.
    #[arg(long, default_value_t = KdfParams::default().memory_kib)]
    kdf_memory_kib: u32,
    /// Argon2id passes for the first key.
    #[arg(long, default_value_t = KdfParams::default().iterations)]
    kdf_iterations: u32,
}

impl Args {
    pub fn kdf(&self) -> KdfParams {
        KdfParams { memory_kib: self.kdf_memory_kib, iterations: self.kdf_iterations, parallelism: 1 }
    }
}

impl Args {
    pub fn run(self, path: PathBuf, pw: &super::Password) -> Result<i32> {
        let chunker = ChunkerParams { min: self.chunk_min, avg: self.chunk_avg, max: self.chunk_max };
        let config = Config::new(chunker, self.compression, self.pack_size)?;
        Repository::check_can_init(&path)?;
        let key = if self.no_encryption {
            None
        } else {
            Some(NewKey { password: pw.get_new()?, params: self.kdf(), cipher: self.cipher })
        };
        let repo = Repository::init_local(&path, config, key)?;
        let how = if self.no_encryption { "plaintext (--no-encryption)" } else { "encrypted" };
        println!("created {how} cairn repository {} at {}", repo.config.id.short(), path.display());
        Ok(0)
    }
}

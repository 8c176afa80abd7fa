//! `cairn init`

use anyhow::Result;
use cairn::chunker::ChunkerParams;
use cairn::repo::config::{Config, DEFAULT_COMPRESSION, DEFAULT_PACK_SIZE};
use cairn::repo::NewKey;
use cairn::seal::crypto::{Cipher, KdfParams};
use cairn::Repository;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn init --repo /backup/cairn\n  CAIRN_PASSWORD_FILE=/etc/cairn/pw cairn init -r /backup/cairn --compression 6\n  cairn init -r /backup/cairn --no-encryption"
)]
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
    #[arg(long, value_enum, default_value_t = CipherArg::Xaes256Gcm)]
    cipher: CipherArg,
    /// Argon2id memory in KiB for the first key.
    #[arg(long, default_value_t = KdfParams::default().memory_kib)]
    kdf_memory_kib: u32,
    /// Argon2id passes for the first key.
    #[arg(long, default_value_t = KdfParams::default().iterations)]
    kdf_iterations: u32,
    /// Repository format version: 5, or 4 for a repository that builds of
    /// format 4 can still read (no frames, no list patches: larger).
    #[arg(long, default_value_t = cairn::format::REPO_VERSION)]
    repository_version: u32,
    /// Name chunks as this other repository does (its id key and chunker
    /// parameters; a new password and encryption key of its own), so
    /// `copy` can move snapshots between them.
    #[command(flatten)]
    from: super::from::From,
    /// Print {repository_id, path, encrypted, format_version, shares_ids_with} as JSON.
    #[arg(long)]
    json: bool,
}

/// `--cipher` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CipherArg {
    #[value(name = "xaes-256-gcm")]
    Xaes256Gcm,
    #[value(name = "xchacha20-poly1305")]
    XChaCha20Poly1305,
}

impl From<CipherArg> for Cipher {
    fn from(c: CipherArg) -> Cipher {
        match c {
            CipherArg::Xaes256Gcm => Cipher::Xaes256Gcm,
            CipherArg::XChaCha20Poly1305 => Cipher::XChaCha20Poly1305,
        }
    }
}

impl Args {
    pub fn kdf(&self) -> Result<KdfParams> {
        kdf_params(self.kdf_memory_kib, self.kdf_iterations)
    }
}

/// Argon2id parameters from `--kdf-memory-kib` and `--kdf-iterations`,
/// checked with the flag named.
pub fn kdf_params(memory_kib: u32, iterations: u32) -> Result<KdfParams> {
    use cairn::seal::crypto::{KDF_ITERATIONS, KDF_MEMORY_KIB};
    within("--kdf-memory-kib", memory_kib, KDF_MEMORY_KIB)?;
    within("--kdf-iterations", iterations, KDF_ITERATIONS)?;
    Ok(KdfParams { memory_kib, iterations, parallelism: 1 })
}

fn within(flag: &str, v: u32, (lo, hi): (u32, u32)) -> Result<()> {
    if (lo..=hi).contains(&v) {
        return Ok(());
    }
    Err(cairn::Error::InvalidArgument(format!("{flag} {v} is out of range: give {lo} to {hi}")).into())
}

/// Each repository parameter checked with its flag named (the library
/// checks them again, in its own words).
fn check_flags(a: &Args) -> Result<()> {
    use cairn::format::{CHUNK_AVG_LIMITS, CHUNK_MAX_LIMITS, CHUNK_MIN_LIMITS};
    if !(0..=22).contains(&a.compression) {
        let msg = format!("--compression {} is out of range: give 0 (off) to 22", a.compression);
        return Err(cairn::Error::InvalidArgument(msg).into());
    }
    within("--pack-size", a.pack_size, (64 << 10, 1 << 30))?;
    within("--chunk-min", a.chunk_min, CHUNK_MIN_LIMITS)?;
    within("--chunk-avg", a.chunk_avg, CHUNK_AVG_LIMITS)?;
    within("--chunk-max", a.chunk_max, CHUNK_MAX_LIMITS)?;
    if !(a.chunk_min <= a.chunk_avg && a.chunk_avg <= a.chunk_max) {
        let msg = format!(
            "--chunk-min {} / --chunk-avg {} / --chunk-max {}: need min <= avg <= max",
            a.chunk_min, a.chunk_avg, a.chunk_max
        );
        return Err(cairn::Error::InvalidArgument(msg).into());
    }
    Ok(())
}

impl Args {
    pub fn run(self, repo: Option<PathBuf>, pw: &super::Session) -> Result<i32> {
        check_flags(&self)?;
        let mut chunker = ChunkerParams { min: self.chunk_min, avg: self.chunk_avg, max: self.chunk_max };
        let backend = super::location::new_backend(repo, &pw.storage)?;
        let path = backend.location();
        let from = self.from.open(false, &pw.storage)?;
        let id_key = from.as_ref().and_then(|f| f.sealer().id_key());
        if let Some(f) = &from {
            chunker = f.config.chunker;
            if id_key.is_some() == self.no_encryption {
                let msg = "init --from-repo: one repository would be encrypted and the other not, so their chunk ids differ; match the source (with or without --no-encryption)";
                return Err(cairn::Error::InvalidArgument(msg.into()).into());
            }
        }
        let config = Config::new(chunker, self.compression, self.pack_size)?.with_version(self.repository_version)?;
        let key = if self.no_encryption {
            None
        } else {
            let params = self.kdf()?;
            Some(NewKey { password: pw.get_new()?, params, cipher: self.cipher.into(), id_key })
        };
        let repo = Repository::init(backend.clone(), config, key)?;
        if !backend.creates_exclusively() && !pw.shown.quiet {
            eprintln!("note: {path} ignores If-None-Match on PUT, so two inits racing on this location could both seem to succeed; cairn needs no other atomic step (format-spec/backends.md)");
        }
        if self.json {
            super::print_json(&serde_json::json!({
                "repository_id": repo.config.id.to_hex(), "path": path,
                "encrypted": !self.no_encryption, "format_version": repo.config.version,
                "shares_ids_with": from.as_ref().map(|f| f.config.id.to_hex()),
            }));
            return Ok(0);
        }
        let how = if self.no_encryption { "plaintext (--no-encryption)" } else { "encrypted" };
        println!("created {how} cairn repository {} at {path}", repo.config.id.short());
        Ok(0)
    }
}

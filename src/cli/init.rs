//! `cairn init`

use anyhow::Result;
use cairn::chunker::ChunkerParams;
use cairn::config::{Config, DEFAULT_COMPRESSION, DEFAULT_PACK_SIZE};
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
}

impl Args {
    pub fn run(self, path: PathBuf) -> Result<i32> {
        let chunker = ChunkerParams { min: self.chunk_min, avg: self.chunk_avg, max: self.chunk_max };
        let config = Config::new(chunker, self.compression, self.pack_size)?;
        let repo = Repository::init_local(&path, config)?;
        println!("created cairn repository {} at {}", repo.config.id.short(), path.display());
        Ok(0)
    }
}

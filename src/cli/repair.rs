//! `cairn repair index`

use super::print_json;
use anyhow::Result;
use cairn::ops::repair::{repair_index, RepairOptions};
use cairn::Repository;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Rebuild the index from the packs' own trailers: after a damaged or
    /// deleted index file, or with --read-all-packs after damaged packs.
    Index(IndexArgs),
}

#[derive(clap::Args)]
pub struct IndexArgs {
    /// Read and verify every pack whole; blobs that fail are left out of
    /// the index (the next backup with that data stores it again).
    #[arg(long)]
    read_all_packs: bool,
    #[arg(long)]
    json: bool,
}

impl Command {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let Command::Index(a) = self;
        let r = repair_index(repo, &RepairOptions { read_all_packs: a.read_all_packs })?;
        if a.json {
            print_json(&r);
        } else {
            for n in &r.notes {
                println!("replaced: {n}");
            }
            for p in &r.problems {
                println!("problem: {p}");
            }
            println!(
                "indexed {} blobs of {} packs ({} read); {} index files written, {} removed; {} missing packs dropped",
                r.blobs_indexed, r.packs, r.packs_read, r.index_files_written, r.index_files_removed, r.packs_missing
            );
            if r.packs_salvaged > 0 {
                println!(
                    "copied {} good blobs out of {} altered pack(s); prune removes the altered packs",
                    r.blobs_salvaged, r.packs_salvaged
                );
            }
        }
        if !r.problems.is_empty() {
            // The new index is written; the damage it could not undo remains.
            return Err(cairn::Error::Damaged(r.problems.len()).into());
        }
        Ok(0)
    }
}

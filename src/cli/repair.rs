//! `cairn repair index` and `cairn repair snapshots`

use super::print_json;
use anyhow::Result;
use cairn::ops::repair::{repair_index, RepairOptions};
use cairn::Repository;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Rebuild the index from the packs' own trailers: after a damaged or
    /// deleted index file, or with --read-all-packs after damaged packs.
    Index(IndexArgs),
    /// For each snapshot using damaged or missing data, write a new one
    /// without the files, databases and directories affected (recorded in
    /// its tags); the original is kept until you forget it.
    Snapshots(SnapshotsArgs),
}

#[derive(clap::Args)]
pub struct SnapshotsArgs {
    /// Find damage by reading every pack (else: missing, truncated and
    /// unindexed data only).
    #[arg(long)]
    read_data: bool,
    /// Say what would be dropped; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
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
    /// Whether the command needs the index loaded at open.
    pub fn needs_index(&self) -> bool {
        matches!(self, Command::Snapshots(_))
    }

    pub fn run(self, repo: &Repository) -> Result<i32> {
        let a = match self {
            Command::Index(a) => a,
            Command::Snapshots(a) => return snapshots(repo, a),
        };
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

fn snapshots(repo: &Repository, a: SnapshotsArgs) -> Result<i32> {
    use cairn::ops::check::ReadData;
    let read = if a.read_data { ReadData::All } else { ReadData::None };
    let r = cairn::ops::repair_snapshots::repair_snapshots(repo, read, a.dry_run)?;
    if a.json {
        print_json(&r);
        return Ok(0);
    }
    for s in &r {
        let what = match (&s.new, a.dry_run) {
            (_, true) => "would be replaced by a snapshot without".to_string(),
            (Some(n), _) => format!("kept; new snapshot {} without", &n[..8]),
            (None, _) => "kept; nothing undamaged remains of".to_string(),
        };
        println!("snapshot {}: {what} {} damaged path(s):", &s.original[..8], s.dropped.len());
        for d in &s.dropped {
            println!("  dropped {d}");
        }
    }
    if r.is_empty() {
        println!("no snapshot uses damaged or missing data");
    } else if !a.dry_run {
        println!("forget the damaged originals when you no longer need them; prune then reclaims their data");
    }
    Ok(0)
}

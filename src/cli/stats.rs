//! `cairn stats`

use super::{human, print_json};
use anyhow::Result;
use cairn::ops::stats::stats;
use cairn::Repository;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn stats\n  cairn stats latest --json")]
pub struct Args {
    /// One snapshot (latest, id or prefix); the whole repository when absent
    /// (and no --at or --source is given).
    snapshot: Option<String>,
    #[command(flatten)]
    at: super::select::At,
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let one = self.snapshot.is_some() || self.at.at.is_some() || self.at.source.is_some();
        let (snaps, whole) = if one {
            (vec![self.at.select(repo, self.snapshot.clone())?.snapshot], false)
        } else {
            (repo.list_snapshots()?.into_iter().map(|(_, s)| s).collect(), true)
        };
        let s = stats(repo, &snaps, whole)?;
        if self.json {
            print_json(&s);
        } else {
            println!("snapshots:          {}", s.snapshots);
            println!("files:              {}", s.files);
            println!("logical size:       {}", human(s.logical_bytes));
            println!("unique data:        {} in {} blobs", human(s.unique_bytes), s.unique_blobs);
            println!("stored size:        {}", human(s.stored_bytes));
            println!("dedup ratio:        {:.2}x", s.dedup_ratio);
            println!("compression ratio:  {:.2}x", s.compression_ratio);
        }
        Ok(0)
    }
}

//! `cairn restore`

use super::{human, print_json};
use anyhow::Result;
use cairn::restore::{restore, RestoreOptions};
use cairn::Repository;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Snapshot: `latest`, a full id or a unique id prefix.
    snapshot: String,
    /// Directory to restore into (must be empty unless --overwrite).
    #[arg(long)]
    target: PathBuf,
    /// Restore only paths matching this glob (repeatable); `*` stays in one
    /// path component, `**` crosses them; a matching directory brings its contents.
    #[arg(long)]
    include: Vec<String>,
    /// Allow a non-empty target; files in the way are replaced.
    #[arg(long)]
    overwrite: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let (id, snap) = repo.resolve_snapshot(&self.snapshot)?;
        let opts = RestoreOptions { target: self.target.clone(), include: self.include, overwrite: self.overwrite };
        let s = restore(repo, &snap, &opts)?;
        if self.json {
            print_json(&serde_json::json!({"snapshot_id": id.to_hex(), "target": self.target, "stats": s}));
        } else {
            println!(
                "restored snapshot {} to {}: {} files ({}), {} dirs, {} symlinks in {:.2}s",
                id.short(),
                self.target.display(),
                s.files,
                human(s.bytes),
                s.dirs,
                s.symlinks,
                s.seconds
            );
        }
        Ok(0)
    }
}

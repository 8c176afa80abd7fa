//! `cairn find`

use super::print_json;
use anyhow::Result;
use cairn::ops::find::find;
use cairn::Repository;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn find 'ep01*'\n  cairn find --host web1 'scripts/**/*.txt'\n  cairn find --json '*.db'"
)]
pub struct Args {
    /// Globs: without `/` an entry's name at any depth (`*.db`), with `/`
    /// its path from the snapshot's root (`data/scripts/**`).
    #[arg(required = true, value_name = "PATTERN")]
    patterns: Vec<String>,
    #[command(flatten)]
    filter: super::filter::Args,
    /// A JSON array: per snapshot with a match, its id, time and matches.
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let snaps = self.filter.filter().list(repo)?;
        if snaps.is_empty() {
            let msg = match self.filter.describe() {
                f if f.is_empty() => "the repository has no snapshots: run `cairn backup` first".to_string(),
                f => format!("no snapshot matches {f}"),
            };
            return Err(cairn::Error::InvalidArgument(msg).into());
        }
        let found = find(repo, &snaps, &self.patterns)?;
        if self.json {
            print_json(&found);
        } else {
            for s in &found {
                println!("snapshot {} of {}:", &s.snapshot[..8], super::local_time(s.time_ns));
                for m in &s.matches {
                    println!(
                        "  {:<8} {:>11}  {}  {}",
                        m.kind,
                        super::human(m.size),
                        super::local_time(m.mtime_ns),
                        m.path
                    );
                }
            }
        }
        // As grep: nothing found is exit 1, with a line saying so.
        if found.is_empty() {
            eprintln!("error: no entry matches {} in {} snapshot(s)", self.patterns.join(" "), snaps.len());
            return Ok(1);
        }
        Ok(0)
    }
}

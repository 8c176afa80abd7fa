//! `cairn diff`

use super::print_json;
use anyhow::Result;
use cairn::ops::diff::{diff, Change};
use cairn::Repository;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn diff 3f2a9c1e latest\n  cairn diff --json 3f2a9c1e 7b0d44aa | jq '.counts'")]
pub struct Args {
    /// The older snapshot (id, unique prefix or `latest`).
    from: String,
    /// The newer snapshot.
    to: String,
    /// One JSON object: `entries` (path, change, kind, parts) and `counts`.
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let (_, a) = repo.resolve_snapshot(&self.from)?;
        let (_, b) = repo.resolve_snapshot(&self.to)?;
        let d = diff(repo, &a, &b)?;
        if self.json {
            print_json(&d);
            return Ok(0);
        }
        for e in &d.entries {
            let mark = match e.change {
                Change::Added => "+",
                Change::Removed => "-",
                Change::Modified => "M",
                Change::Metadata => "U",
            };
            let kind = if matches!(e.kind.as_str(), "file" | "dir" | "symlink") {
                String::new()
            } else {
                format!("  ({})", e.kind)
            };
            println!("{mark}    {}{kind}", e.path);
            for p in &e.parts {
                let mut what = format!("{} of {} {} changed", p.changed, p.total, p.unit);
                if p.added > 0 {
                    what.push_str(&format!(", {} added", p.added));
                }
                if p.removed > 0 {
                    what.push_str(&format!(", {} removed", p.removed));
                }
                println!("       {}: {what}", p.path);
            }
        }
        let c = &d.counts;
        println!("{} added, {} removed, {} modified, {} metadata only", c.added, c.removed, c.modified, c.metadata);
        Ok(0)
    }
}

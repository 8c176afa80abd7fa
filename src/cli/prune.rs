//! `cairn prune`

use super::{human, print_json};
use anyhow::Result;
use cairn::ops::prune::{plan, run as run_prune, PruneOptions, DEFAULT_MAX_UNUSED};
use cairn::Repository;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn prune --dry-run\n  cairn prune --grace 0s --max-unused 5")]
pub struct Args {
    /// Show the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    opts: Opts,
    /// Print the plan and the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options shared with `forget --prune`.
#[derive(clap::Args)]
pub struct Opts {
    /// Repack a pack when more than this percentage of it is unreferenced.
    #[arg(long, value_name = "PERCENT", default_value_t = DEFAULT_MAX_UNUSED * 100.0)]
    max_unused: f64,
    /// Delete packs only this long after prune marked them (e.g. 24h, 3d).
    /// `0s` deletes at once: safe only when no other process uses the repository.
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    grace: String,
}

impl Opts {
    pub fn options(&self) -> Result<PruneOptions> {
        if !(0.0..=100.0).contains(&self.max_unused) {
            let msg = format!("--max-unused {}: give a percentage from 0 to 100", self.max_unused);
            return Err(cairn::Error::InvalidArgument(msg).into());
        }
        let span = super::forget::parse_span("--grace", &self.grace)?;
        let d = span
            .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
            .map_err(|e| cairn::Error::InvalidArgument(format!("--grace {:?}: {e}", self.grace)))?;
        let grace = d.try_into().map_err(|_| {
            cairn::Error::InvalidArgument(format!("--grace {:?} is negative: give a duration like 24h", self.grace))
        })?;
        Ok(PruneOptions { max_unused: self.max_unused / 100.0, grace })
    }
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        run(repo, &self.opts.options()?, self.dry_run, self.json)
    }
}

pub fn run(repo: &Repository, opts: &PruneOptions, dry_run: bool, json: bool) -> Result<i32> {
    let p = plan(repo, opts)?;
    let s = &p.summary;
    if !json {
        println!("snapshots: {}, packs: {}", s.snapshots, s.packs);
        println!("referenced:   {} blobs, {}", s.blobs_referenced, human(s.bytes_referenced));
        println!("unreferenced: {} blobs, {}", s.blobs_unreferenced, human(s.bytes_unreferenced));
        println!(
            "to mark for deletion: {} packs, {} ({} not indexed)",
            s.packs_to_mark,
            human(s.bytes_to_mark),
            s.packs_unindexed
        );
        println!("to repack: {} packs, {} to copy", s.packs_to_repack, human(s.bytes_to_repack));
        println!(
            "marked earlier: {} to delete now ({}), {} within the grace period, {} referenced again (kept)",
            s.packs_to_delete,
            human(s.bytes_to_delete),
            s.packs_waiting,
            s.packs_rescued
        );
    }
    if dry_run {
        if json {
            print_json(&serde_json::json!({"dry_run": true, "plan": s}));
        } else {
            println!("dry run: nothing changed");
        }
        return Ok(0);
    }
    let r = run_prune(repo, &p)?;
    if json {
        print_json(&serde_json::json!({"dry_run": false, "plan": s, "result": r}));
    } else {
        println!(
            "done: {} packs written, {} marked, {} deleted; freed {}",
            r.packs_written,
            r.packs_marked,
            r.packs_deleted,
            human(r.bytes_freed)
        );
    }
    Ok(0)
}

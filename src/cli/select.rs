//! Snapshot selection shared by `ls`, `restore` and `stats`: an id, or a
//! point in time with `--at`, narrowed to one source with `--source`.

use anyhow::Result;
use cairn::ops::select::{select, Query, Selected};
use cairn::Repository;

#[derive(clap::Args)]
pub struct At {
    /// Point in time: use the newest snapshot taken at or before it (RFC
    /// 3339, a local "2026-01-31 12:00", today, yesterday or "2h ago").
    #[arg(long)]
    pub at: Option<String>,
    /// Only snapshots that include this source, as given to backup
    /// (a path, or sqlite:PATH).
    #[arg(long)]
    pub source: Option<String>,
}

impl At {
    pub fn query(&self, spec: Option<String>) -> Result<Query> {
        let at = self.at.as_deref().map(|t| super::backup::parse_time("--at", t)).transpose()?;
        Ok(Query { spec, at, source: self.source.clone(), host: None, stack: None })
    }

    /// Select, and say on stderr which snapshot `--at` chose.
    pub fn select(&self, repo: &Repository, spec: Option<String>) -> Result<Selected> {
        let sel = select(repo, &self.query(spec)?)?;
        if let Some(n) = &sel.note {
            eprintln!("{n}");
        }
        Ok(sel)
    }
}

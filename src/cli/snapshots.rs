//! `cairn snapshots`

use super::{human, print_json};
use anyhow::Result;
use cairn::format::snapshot::Snapshot;
use cairn::{Id, Repository};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Args {
    /// Print a JSON array (schema in README).
    #[arg(long)]
    json: bool,
}

/// The documented JSON form of a snapshot (also used by `cat snapshot`).
pub fn snapshot_json(id: &Id, s: &Snapshot) -> Value {
    json!({
        "id": id.to_hex(),
        "short_id": id.short(),
        "time": s.time_string(),
        "hostname": s.hostname,
        "username": s.username,
        "tags": s.tags,
        "sources": s.sources.iter().map(|x| json!({"kind": cairn::source::name_of(x.kind), "path": x.path})).collect::<Vec<_>>(),
        "tree": s.tree.iter().map(|t| t.to_hex()).collect::<Vec<_>>(),
        "parent": s.parent.map(|p| p.to_hex()),
        "summary": {"files": s.summary.files, "dirs": s.summary.dirs, "symlinks": s.summary.symlinks, "bytes": s.summary.bytes},
    })
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let snaps = repo.list_snapshots()?;
        if self.json {
            print_json(&snaps.iter().map(|(id, s)| snapshot_json(id, s)).collect::<Vec<_>>());
            return Ok(0);
        }
        println!("{:<8}  {:<30}  {:<16}  {:>10}  {:<12}  sources", "id", "time", "host", "size", "tags");
        for (id, s) in &snaps {
            let sources: Vec<&str> = s.sources.iter().map(|x| x.path.as_str()).collect();
            println!(
                "{:<8}  {:<30}  {:<16}  {:>10}  {:<12}  {}",
                id.short(),
                s.time_string(),
                s.hostname,
                human(s.summary.bytes),
                s.tags.join(","),
                sources.join(" ")
            );
        }
        println!("{} snapshot(s)", snaps.len());
        Ok(0)
    }
}

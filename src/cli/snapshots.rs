//! `cairn snapshots`

use super::{human, print_json};
use anyhow::Result;
use cairn::format::snapshot::Snapshot;
use cairn::{Id, Repository};
use serde_json::{json, Value};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn snapshots\n  cairn snapshots --host web1 --tag nightly --latest 3\n  cairn snapshots --json | jq '.[].short_id'"
)]
pub struct Args {
    #[command(flatten)]
    filter: super::filter::Args,
    /// Only the N newest snapshots of each host and sources (or stack).
    #[arg(long, value_name = "N")]
    latest: Option<usize>,
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
        "stack": s.stack.as_ref().map(|st| json!({"name": st.name,
            "components": st.components.iter().map(component_json).collect::<Vec<_>>()})),
    })
}

/// A stack component as `snapshots --json` and `backup --stack --json` show it.
pub fn component_json(c: &cairn::format::snapshot::Component) -> Value {
    json!({"name": c.name, "kind": cairn::source::name_of(c.kind), "location": c.location,
        "start": jiff::Timestamp::from_nanosecond(c.start_ns as i128).map(|t| t.to_string()).unwrap_or_default(),
        "seconds": c.duration_us as f64 / 1e6, "hold_ms": c.hold_us.map(|h| h / 1000), "method": c.method,
        "bytes": c.bytes, "bytes_read": c.bytes_read})
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let mut snaps = self.filter.filter().list(repo)?;
        if let Some(n) = self.latest {
            snaps = cairn::ops::select::latest(snaps, n);
        }
        if self.json {
            print_json(&snaps.iter().map(|(id, s)| snapshot_json(id, s)).collect::<Vec<_>>());
            return Ok(0);
        }
        let filter = self.filter.describe();
        if snaps.is_empty() && !filter.is_empty() {
            eprintln!("no snapshot matches {filter}");
            return Ok(0);
        }
        println!("{:<8}  {:<25}  {:<16}  {:>10}  {:<12}  sources", "id", "time", "host", "size", "tags");
        for (id, s) in &snaps {
            let sources: Vec<String> = match &s.stack {
                // A stack snapshot: its stack, then each component and its kind.
                Some(st) => std::iter::once(format!("stack {}:", st.name))
                    .chain(st.components.iter().map(|c| format!("{}({})", c.name, cairn::source::name_of(c.kind))))
                    .collect(),
                None => s.sources.iter().map(|x| x.path.clone()).collect(),
            };
            println!(
                "{:<8}  {:<25}  {:<16}  {:>10}  {:<12}  {}",
                id.short(),
                super::local_time(s.time_ns),
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

//! `cairn ls`

use super::print_json;
use anyhow::Result;
use cairn::tree::{Node, NodeKind};
use cairn::Repository;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Snapshot: `latest`, a full id or a unique id prefix.
    snapshot: String,
    /// Only list this path inside the snapshot, and what is below it.
    path: Option<String>,
    /// One JSON object per line: path, type, mode, size, mtime.
    #[arg(long)]
    json: bool,
}

fn kind(n: &Node) -> &'static str {
    match n.kind {
        NodeKind::File => "file",
        NodeKind::Dir => "dir",
        NodeKind::Symlink => "symlink",
    }
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let (_, snap) = repo.resolve_snapshot(&self.snapshot)?;
        let want = self.path.as_deref().map(|p| PathBuf::from(p.trim_matches('/')));
        let mut found = want.is_none();
        repo.walk(&snap.tree, Path::new(""), &mut |path, node| {
            if let Some(w) = &want {
                if !path.starts_with(w) {
                    return Ok(());
                }
                found = true;
            }
            let mtime = jiff::Timestamp::from_nanosecond(node.mtime_ns as i128).map(|t| t.to_string()).unwrap_or_default();
            if self.json {
                print_json(&serde_json::json!({
                    "path": format!("/{}", path.display()), "type": kind(node), "mode": node.mode,
                    "size": node.size, "mtime": mtime,
                }));
            } else {
                let link = if node.kind == NodeKind::Symlink {
                    format!(" -> {}", String::from_utf8_lossy(&node.target))
                } else {
                    String::new()
                };
                println!("{:>7o} {:>12} {} /{}{link}", node.mode, node.size, mtime, path.display());
            }
            Ok(())
        })?;
        if !found {
            return Err(cairn::Error::PathNotInSnapshot(self.path.unwrap_or_default()).into());
        }
        Ok(0)
    }
}

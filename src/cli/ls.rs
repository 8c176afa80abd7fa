//! `cairn ls`

use super::print_json;
use anyhow::Result;
use cairn::format::tree::{Node, NodeKind};
use cairn::Repository;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn ls latest\n  cairn ls -l 3f2a9c1e /scripts\n  cairn ls --at yesterday /app.db"
)]
pub struct Args {
    /// Snapshot: `latest`, a full id or a unique id prefix (omit it with --at).
    snapshot: Option<String>,
    /// Only list this path inside the snapshot, and what is below it.
    path: Option<String>,
    #[command(flatten)]
    at: super::select::At,
    /// Long listing: `rwx` mode, owner, size and local modification time.
    #[arg(long, short = 'l')]
    long: bool,
    /// One JSON object per line: path, type, mode, size, mtime.
    #[arg(long)]
    json: bool,
}

impl Args {
    fn print(&self, path: &Path, node: &Node) {
        let mtime = jiff::Timestamp::from_nanosecond(node.mtime_ns as i128).map(|t| t.to_string()).unwrap_or_default();
        if self.json {
            print_json(&serde_json::json!({
                "path": format!("/{}", path.display()), "type": cairn::source::kind_name(node), "mode": node.mode,
                "size": node.size, "mtime": mtime,
            }));
        } else {
            let link = if node.kind == NodeKind::Symlink {
                format!(" -> {}", String::from_utf8_lossy(&node.target))
            } else {
                String::new()
            };
            if self.long {
                let when = super::local_time(node.mtime_ns);
                let (mode, size) = (mode_string(node), super::human(node.size));
                println!("{mode} {:>6} {:>6} {size:>11} {when} /{}{link}", node.uid, node.gid, path.display());
            } else {
                println!("{:>7o} {:>12} {} /{}{link}", node.mode, node.size, mtime, path.display());
            }
        }
    }

    /// A part of a source node, below it: its size, what it takes stored,
    /// its chunking.
    fn print_part(&self, node: &Path, p: &cairn::source::Part) {
        let path = format!("/{}/{}", node.display(), p.path);
        if self.json {
            print_json(&serde_json::json!({
                "path": path, "type": "part", "size": p.size, "stored": p.stored, "chunking": p.chunking,
            }));
        } else {
            println!("{:>7} {:>12} stored {:>12} {:<16} {path}", "part", p.size, p.stored, p.chunking);
        }
    }

    pub fn run(self, repo: &Repository) -> Result<i32> {
        // With --at the snapshot is chosen by time, so a lone positional is the path.
        let (spec, path) = match (&self.at.at, &self.snapshot, &self.path) {
            (Some(_), Some(p), None) => (None, Some(p.clone())),
            _ => (self.snapshot.clone(), self.path.clone()),
        };
        if spec.is_none() && self.at.at.is_none() && self.at.source.is_none() {
            return Err(
                cairn::Error::InvalidArgument("which snapshot? give `latest`, an id, or --at TIME".into()).into()
            );
        }
        let snap = self.at.select(repo, spec)?.snapshot;
        let (tree, prefix) = match path.as_deref().map(|p| PathBuf::from(p.trim_matches('/'))) {
            Some(p) if !p.as_os_str().is_empty() => {
                let node = repo
                    .find_path(&snap.tree, &p)?
                    .ok_or_else(|| cairn::Error::PathNotInSnapshot(p.display().to_string()))?;
                self.print(&p, &node);
                (node.subtree, p)
            }
            _ => (snap.tree.clone(), PathBuf::new()),
        };
        cairn::source::reach::entries(&mut |id| repo.read_blob(id), &tree, &mut |path, node| {
            self.print(&prefix.join(path), node);
            if let NodeKind::Source(_) = node.kind {
                let kind = cairn::source::of_node(node, path)?;
                for p in kind.parts(repo, node)? {
                    self.print_part(&prefix.join(path), &p);
                }
            }
            Ok(())
        })?;
        Ok(0)
    }
}

/// `-rw-r--r--` for a node: its type letter (`d`, `l`, `-`; `s` for a
/// database or other source node) and the nine permission bits, with
/// setuid, setgid and sticky as `ls -l` shows them.
fn mode_string(n: &Node) -> String {
    let t = match n.kind {
        NodeKind::Dir => 'd',
        NodeKind::Symlink => 'l',
        NodeKind::File => '-',
        NodeKind::Source(_) => 's',
    };
    let m = n.mode;
    let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
    let exec = |x: u32, special: u32, on: char, off: char| match (m & x != 0, m & special != 0) {
        (true, true) => on,
        (false, true) => off,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        t,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        exec(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        exec(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        exec(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

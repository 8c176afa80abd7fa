//! `cairn cat`

use anyhow::Result;
use cairn::format::tree::NodeKind;
use cairn::{Error, Id, Repository};
use serde_json::json;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn cat config\n  cairn cat snapshot latest\n  cairn cat tree 3f2a9c1e")]
pub struct Args {
    /// What to print: `config`, `snapshot`, or `tree`.
    #[arg(value_parser = ["config", "snapshot", "tree"])]
    what: String,
    /// Snapshot (latest, id or prefix) or tree blob id.
    id: Option<String>,
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let need_id =
            || self.id.clone().ok_or_else(|| Error::InvalidArgument(format!("`cat {}` needs an ID", self.what)));
        let v = match self.what.as_str() {
            "config" => {
                let c = &repo.config;
                json!({"version": c.version, "id": c.id.to_hex(), "chunker": c.chunker,
                       "compression_level": c.compression_level, "pack_size": c.pack_size, "created_ns": c.created_ns,
                       "encryption": format!("{:?}", c.encryption)})
            }
            "snapshot" => {
                let (id, s) = repo.resolve_snapshot(&need_id()?)?;
                super::snapshots::snapshot_json(&id, &s)
            }
            _ => {
                let raw = need_id()?;
                let id = Id::parse(&raw)
                    .ok_or_else(|| Error::InvalidArgument(format!("{raw:?} is not a 64-digit hex tree id")))?;
                let tree = repo.read_tree_blob(&id)?;
                let nodes: Vec<_> = tree
                    .nodes
                    .iter()
                    .map(|n| {
                        json!({"name": String::from_utf8_lossy(&n.name), "type": format!("{:?}", n.kind).to_lowercase(),
                           "mode": n.mode, "uid": n.uid, "gid": n.gid, "size": n.size, "mtime_ns": n.mtime_ns,
                           "ctime_ns": n.ctime_ns, "inode": n.inode,
                           "content": n.content.iter().map(|c| c.to_hex()).collect::<Vec<_>>(),
                           "subtree": n.subtree.iter().map(|c| c.to_hex()).collect::<Vec<_>>(),
                           "target": (n.kind == NodeKind::Symlink).then(|| String::from_utf8_lossy(&n.target).into_owned()),
                           "flags": n.flags})
                    })
                    .collect();
                json!({"id": id.to_hex(), "nodes": nodes})
            }
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
        Ok(0)
    }
}

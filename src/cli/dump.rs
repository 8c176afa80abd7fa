//! `cairn dump`

use anyhow::Result;
use cairn::ops::dump::dump;
use cairn::Repository;
use std::io::{IsTerminal, Write};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn dump latest /scripts/ep01.txt\n  cairn dump latest /app.db > app.db\n  cairn dump 3f2a9c1e /scripts | tar -tv"
)]
pub struct Args {
    /// Snapshot: `latest`, a full id or a unique id prefix.
    snapshot: String,
    /// Path inside the snapshot (`ls` shows them); `/` for all of it. A
    /// file comes out as its bytes, a directory as tar, a database as a
    /// consistent .db file.
    path: String,
    /// Write a tar archive or binary data even to a terminal.
    #[arg(long)]
    force: bool,
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let (_, snap) = repo.resolve_snapshot(&self.snapshot)?;
        let stdout = std::io::stdout();
        if stdout.is_terminal() && !self.force {
            // Checked before anything is read: a tar or a database would
            // scramble the terminal.
            let node = repo.find_path(&snap.tree, std::path::Path::new(self.path.trim_matches('/')))?;
            if node.is_none_or(|n| n.kind != cairn::format::tree::NodeKind::File) {
                let msg = format!("dump {}: that is not a plain file, and stdout is a terminal: redirect it (`> file`) or pipe it, or pass --force", self.path);
                return Err(cairn::Error::InvalidArgument(msg).into());
            }
        }
        let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        dump(repo, &snap, &self.path, &mut out)?;
        out.flush()?;
        Ok(0)
    }
}

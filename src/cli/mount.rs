//! `cairn mount`

use anyhow::Result;
use cairn::Repository;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn mount /mnt/cairn            (then, elsewhere: ls /mnt/cairn/snapshots)\n  fusermount3 -u /mnt/cairn          (or Ctrl-C here) to unmount"
)]
pub struct Args {
    /// An empty directory to mount the repository on (read-only):
    /// ids/, snapshots/ (by local time), tags/ and hosts/.
    dir: PathBuf,
}

impl Args {
    pub fn run(self, repo: Repository, cancel: &cairn::progress::Cancel) -> Result<i32> {
        let dir = self.dir.clone();
        let ready =
            || eprintln!("mounted at {}: Ctrl-C or `fusermount3 -u {}` to unmount", dir.display(), dir.display());
        cairn::mount::mount(repo, &self.dir, &|| cancel.is_set(), &ready)?;
        Ok(0)
    }
}

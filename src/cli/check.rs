//! `cairn check`

use super::print_json;
use anyhow::Result;
use cairn::backend::local::LocalBackend;
use cairn::ops::check::check;
use cairn::Repository;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// Also read every pack and re-hash every chunk (parallel).
    #[arg(long)]
    read_data: bool,
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(self, path: PathBuf, pw: &super::Password) -> Result<i32> {
        // check builds its own index so that one unreadable index file is a
        // finding, not a reason to stop.
        let repo = Repository::open_without_index(Arc::new(LocalBackend::new(path)), Some(&|| pw.get()))?;
        let rep = check(&repo, self.read_data)?;
        if self.json {
            print_json(&rep);
        } else {
            for n in &rep.notes {
                println!("note: {n}");
            }
            for e in &rep.errors {
                println!("error: {e}");
            }
            println!(
                "checked {} snapshots, {} index files, {} packs{}",
                rep.snapshots,
                rep.index_files,
                rep.packs,
                if self.read_data { format!(", {} blobs read", rep.blobs_read) } else { String::new() }
            );
        }
        if !rep.is_ok() {
            return Err(cairn::Error::Damaged(rep.errors.len()).into());
        }
        if !self.json {
            println!("no errors found");
        }
        Ok(0)
    }
}

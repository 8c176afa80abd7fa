//! `cairn protect` and `cairn unprotect`

use anyhow::Result;
use cairn::Repository;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn protect 3f2a9c1e\n  cairn unprotect 3f2a9c1e")]
pub struct Args {
    /// Snapshot: `latest`, a full id or a unique id prefix.
    snapshot: String,
    /// Print {snapshot, protected, changed} as JSON.
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(self, repo: &Repository, protect: bool) -> Result<i32> {
        let (id, _) = repo.resolve_snapshot(&self.snapshot)?;
        if self.json {
            let changed = match protect {
                true => {
                    !cairn::repo::marks::protected(repo)?.contains(&id)
                        && cairn::repo::marks::protect(repo, &id).is_ok()
                }
                false => cairn::repo::marks::unprotect(repo, &id)?,
            };
            super::print_json(&serde_json::json!({"snapshot": id.to_hex(), "protected": protect, "changed": changed}));
            return Ok(0);
        }
        if protect {
            cairn::repo::marks::protect(repo, &id)?;
            println!("snapshot {} is protected: forget will never remove it", id.short());
        } else if cairn::repo::marks::unprotect(repo, &id)? {
            println!("snapshot {} is no longer protected", id.short());
        } else {
            println!("snapshot {} was not protected", id.short());
        }
        Ok(0)
    }
}

//! `cairn copy`

use super::print_json;
use anyhow::Result;
use cairn::Repository;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn init -r /offsite/cairn --from-repo /backup/cairn\n  cairn copy -r /offsite/cairn --from-repo /backup/cairn\n  cairn copy -r /offsite/cairn --from-repo /backup/cairn --tag monthly"
)]
pub struct Args {
    /// Snapshots of the source (ids, prefixes or `latest`); without any,
    /// every snapshot the filter matches.
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    #[command(flatten)]
    from: super::from::From,
    #[command(flatten)]
    filter: super::filter::Args,
    /// Print one JSON object per snapshot: id, copied, blobs_new, bytes_new_stored.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    pub fn run(self, to: &Repository, storage: &super::location::Storage) -> Result<i32> {
        let Some(from) = self.from.open(true, storage)? else {
            let msg = "copy: give the source with --from-repo DIR (or CAIRN_FROM_REPOSITORY)";
            return Err(cairn::Error::InvalidArgument(msg.into()).into());
        };
        cairn::ops::copy::check_pair(&from, to)?;
        let snaps = self.filter.select(&from, &self.ids)?;
        if snaps.is_empty() {
            let what = self.filter.describe();
            let msg = format!(
                "copy: no snapshot of the source matches{}; nothing was copied",
                if what.is_empty() { String::new() } else { format!(" {what}") }
            );
            return Err(cairn::Error::InvalidArgument(msg).into());
        }
        let done = cairn::ops::copy::copy(&from, to, &snaps)?;
        for c in &done {
            if self.json {
                print_json(c);
            } else if c.copied {
                println!(
                    "copied snapshot {}: {} new blobs, {} stored",
                    &c.snapshot[..8],
                    c.blobs_new,
                    super::human(c.bytes_new_stored)
                );
            } else {
                println!("snapshot {} is already there", &c.snapshot[..8]);
            }
        }
        Ok(0)
    }
}

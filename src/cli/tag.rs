//! `cairn tag`

use super::print_json;
use anyhow::Result;
use cairn::ops::tag::{retag, TagChange};
use cairn::Repository;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn tag latest --add before-migration\n  cairn tag --tag nightly --set weekly\n  cairn tag 3f2a9c1e --remove test"
)]
pub struct Args {
    /// Snapshots (ids, unique prefixes or `latest`); without any, every
    /// snapshot the filter matches.
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Add this tag (repeatable).
    #[arg(long, value_name = "TAG")]
    add: Vec<String>,
    /// Remove this tag (repeatable).
    #[arg(long, value_name = "TAG")]
    remove: Vec<String>,
    /// Replace all tags with these (repeatable; `--set ''` is not allowed:
    /// use --remove).
    #[arg(long, value_name = "TAG")]
    set: Vec<String>,
    #[command(flatten)]
    filter: super::filter::Args,
    /// Print what changed as JSON.
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let change =
            TagChange { set: (!self.set.is_empty()).then(|| self.set.clone()), add: self.add, remove: self.remove };
        if self.ids.is_empty() && self.filter.filter().is_empty() {
            let msg = "tag: name the snapshots (ids or latest) or select them with --tag, --host or --path";
            return Err(cairn::Error::InvalidArgument(msg.into()).into());
        }
        let ids: Vec<cairn::Id> = self.filter.select(repo, &self.ids)?.into_iter().map(|(id, _)| id).collect();
        if ids.is_empty() {
            let msg = format!("no snapshot matches {}; no tag changed", self.filter.describe());
            return Err(cairn::Error::InvalidArgument(msg).into());
        }
        let done = retag(repo, &ids, &change)?;
        if self.json {
            print_json(&done);
            return Ok(0);
        }
        for r in &done {
            match &r.new {
                Some(new) => println!("snapshot {} is now {} tags [{}]", &r.old[..8], &new[..8], r.tags.join(",")),
                None => println!("snapshot {} unchanged, tags [{}]", &r.old[..8], r.tags.join(",")),
            }
        }
        let changed = done.iter().filter(|r| r.new.is_some()).count();
        println!("changed the tags of {changed} snapshot(s)");
        Ok(0)
    }
}

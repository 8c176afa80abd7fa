//! `--tag`, `--host`, `--path` for the commands that cover many snapshots
//! (`snapshots`, `forget`, `tag`, `find`, `copy`), as the library's `Filter`.

use cairn::format::snapshot::Snapshot;
use cairn::ops::select::Filter;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Args {
    /// Only snapshots with these tags: `--tag a,b` needs both, a repeated
    /// `--tag` is another choice (`--tag a,b --tag c`: a and b, or c).
    #[arg(long = "tag", value_name = "TAG[,TAG]")]
    tags: Vec<String>,
    /// Only snapshots of this host (repeatable: any of them).
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// Only snapshots holding this source, as given to backup (a path,
    /// sqlite:PATH, ...; repeatable: all of them).
    #[arg(long = "path", visible_alias = "source", value_name = "SOURCE")]
    paths: Vec<String>,
}

impl Args {
    pub fn filter(&self) -> Filter {
        Filter {
            tags: self
                .tags
                .iter()
                .map(|g| g.split(',').filter(|t| !t.is_empty()).map(String::from).collect())
                .collect(),
            hosts: self.hosts.clone(),
            sources: self.paths.clone(),
        }
    }

    /// The snapshots `ids` name (ids, prefixes, `latest`) that the filter
    /// matches, or with no ids every snapshot it matches; oldest first.
    pub fn select(&self, repo: &cairn::Repository, ids: &[String]) -> cairn::Result<Vec<(cairn::Id, Snapshot)>> {
        let filter = self.filter();
        if ids.is_empty() {
            return filter.list(repo);
        }
        let named = ids.iter().map(|s| repo.resolve_snapshot(s)).collect::<cairn::Result<Vec<_>>>()?;
        Ok(named.into_iter().filter(|(_, s)| filter.matches(s)).collect())
    }

    /// The filter as it was given, for a message.
    pub fn describe(&self) -> String {
        let flags = self.tags.iter().map(|t| format!("--tag {t}"));
        let flags = flags.chain(self.hosts.iter().map(|h| format!("--host {h}")));
        flags.chain(self.paths.iter().map(|p| format!("--path {p}"))).collect::<Vec<_>>().join(" ")
    }
}

//! `find`: entries whose name or path matches a pattern, in every snapshot
//! a filter selects. Patterns follow the backup's `--exclude` rules (a
//! glob without `/` matches an entry's name at any depth, with `/` its
//! path from the snapshot's root), so one set of rules serves both.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::repo::Repository;
use crate::source::files::exclude::Exclude;

/// One entry found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Match {
    /// From the snapshot's root, starting with `/`.
    pub path: String,
    /// `file`, `dir`, `symlink`, or a source kind's name.
    pub kind: String,
    pub size: u64,
    pub mtime_ns: i64,
}

/// The matches in one snapshot.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InSnapshot {
    pub snapshot: String,
    pub time_ns: i64,
    pub matches: Vec<Match>,
}

/// Search `snaps` (oldest first) for `patterns`; snapshots without a match
/// are left out.
pub fn find(repo: &Repository, snaps: &[(Id, Snapshot)], patterns: &[String]) -> Result<Vec<InSnapshot>> {
    if patterns.is_empty() {
        return Err(Error::InvalidArgument("find: give a pattern (`*.db`, `scripts/**/ep01*`)".into()));
    }
    let rules = Exclude::new(patterns).map_err(Error::InvalidArgument)?;
    let mut out = Vec::new();
    for (id, snap) in snaps {
        let mut matches = Vec::new();
        crate::source::reach::entries(&mut |b| repo.read_blob(b), &snap.tree, &mut |p, n| {
            if rules.excludes(p) {
                let (kind, size, mtime_ns) = (crate::source::kind_name(n), n.size, n.mtime_ns);
                matches.push(Match { path: format!("/{}", p.display()), kind, size, mtime_ns });
            }
            Ok(())
        })?;
        if !matches.is_empty() {
            out.push(InSnapshot { snapshot: id.to_hex(), time_ns: snap.time_ns, matches });
        }
    }
    Ok(out)
}

//! `forget`: group snapshots (by host and sources by default, so a SQLite
//! series never competes with a file series), apply the retention policy to
//! each group, refuse a plan that empties a group, then delete the snapshot
//! objects the plan removes. The data they referenced stays until `prune`.

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::PREFIX_SNAPSHOTS;
use crate::repo::Repository;
use crate::retention::{apply, Candidate, Policy};
use jiff::tz::TimeZone;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    pub host: bool,
    pub sources: bool,
    pub tags: bool,
}

impl Default for GroupBy {
    fn default() -> Self {
        GroupBy { host: true, sources: true, tags: false }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = Error;
    /// `host,sources,tags` in any combination; empty for one group.
    fn from_str(s: &str) -> Result<Self> {
        let mut g = GroupBy { host: false, sources: false, tags: false };
        for k in s.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            match k {
                "host" => g.host = true,
                "sources" | "paths" => g.sources = true,
                "tags" => g.tags = true,
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "unknown group key {other:?}: use host, sources and tags, comma-separated"
                    )))
                }
            }
        }
        Ok(g)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub short_id: String,
    pub time: String,
    pub keep: bool,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub host: Option<String>,
    pub sources: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    /// Newest first.
    pub snapshots: Vec<Row>,
}

fn group_key(s: &Snapshot, by: GroupBy) -> (Option<String>, Option<Vec<String>>, Option<Vec<String>>) {
    let mut tags = s.tags.clone();
    tags.sort();
    (
        by.host.then(|| s.hostname.clone()),
        // A stack's snapshots are one series whichever components each holds.
        by.sources.then(|| match &s.stack {
            Some(st) => vec![format!("stack {}", st.name)],
            None => s.source_key().into_iter().map(|(k, p)| source_display(k, &p)).collect(),
        }),
        by.tags.then_some(tags),
    )
}

/// A source as it is written on the command line (`sqlite:/x.db`).
fn source_display(k: crate::format::snapshot::SourceKind, path: &str) -> String {
    match crate::source::by_kind(k) {
        Some(s) => crate::source::display(s, path),
        None => format!("{}:{path}", crate::source::name_of(k)),
    }
}

/// Decide for every snapshot; refuses before anything is deleted if a
/// group would lose every snapshot.
pub fn plan(repo: &Repository, policy: &Policy, by: GroupBy, tz: &TimeZone) -> Result<Vec<Group>> {
    plan_of(repo, policy, by, tz, &|_| true)
}

/// `plan` over the snapshots `of` selects (one stack's, say); the others
/// are left alone.
pub fn plan_of(
    repo: &Repository,
    policy: &Policy,
    by: GroupBy,
    tz: &TimeZone,
    of: &dyn Fn(&Snapshot) -> bool,
) -> Result<Vec<Group>> {
    policy.validate()?;
    if policy.is_empty() {
        return Err(Error::PolicyKeepsNothing);
    }
    let protected = crate::repo::marks::protected(repo)?;
    let mut groups: BTreeMap<_, Vec<Candidate>> = BTreeMap::new();
    let mut snaps = std::collections::HashMap::new();
    for (id, s) in repo.list_snapshots()?.into_iter().filter(|(_, s)| of(s)) {
        let time = jiff::Timestamp::from_nanosecond(s.time_ns as i128).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let c = Candidate { id, time, tags: s.tags.clone(), protected: protected.contains(&id) };
        groups.entry(group_key(&s, by)).or_default().push(c);
        snaps.insert(id, s);
    }
    let mut out = Vec::new();
    for ((host, sources, tags), cands) in groups {
        let decisions = apply(&cands, policy, tz);
        if !decisions.iter().any(|d| d.keep) {
            return Err(Error::InvalidArgument(format!(
                "refusing: the policy would remove all {} snapshots of group host={} sources={}; nothing was removed",
                decisions.len(),
                host.as_deref().unwrap_or("*"),
                sources.as_ref().map(|s| s.join(",")).unwrap_or_else(|| "*".into())
            )));
        }
        let snapshots = decisions
            .into_iter()
            .map(|d| Row {
                id: d.id.to_hex(),
                short_id: d.id.short(),
                time: snaps[&d.id].time_string(),
                keep: d.keep,
                reasons: d.reasons,
            })
            .collect();
        out.push(Group { host, sources, tags, snapshots });
    }
    Ok(out)
}

/// Delete the snapshot objects `groups` removes; returns how many.
/// The plan that removes exactly the snapshots `specs` name (ids or
/// prefixes): one group; a protected one is refused before anything goes.
pub fn plan_ids(repo: &Repository, specs: &[String]) -> Result<Vec<Group>> {
    let protected = crate::repo::marks::protected(repo)?;
    let mut rows: Vec<Row> = Vec::new();
    for spec in specs {
        let (id, snap) = repo.resolve_snapshot(spec)?;
        if protected.contains(&id) {
            return Err(Error::InvalidArgument(format!(
                "snapshot {} is protected: `cairn unprotect {}` first; nothing was removed",
                id.short(),
                id.short()
            )));
        }
        if rows.iter().all(|r| r.id != id.to_hex()) {
            let reasons = vec!["named on the command line".to_string()];
            rows.push(Row { id: id.to_hex(), short_id: id.short(), time: snap.time_string(), keep: false, reasons });
        }
    }
    Ok(vec![Group { host: None, sources: None, tags: None, snapshots: rows }])
}

pub fn execute(repo: &Repository, groups: &[Group]) -> Result<usize> {
    let mut n = 0;
    for r in groups.iter().flat_map(|g| &g.snapshots).filter(|r| !r.keep) {
        crate::failpoint::hit("forget-delete");
        repo.backend().delete(&format!("{PREFIX_SNAPSHOTS}{}", r.id))?;
        n += 1;
    }
    Ok(n)
}

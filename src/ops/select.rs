//! Choosing a snapshot: by id or `latest`, optionally narrowed to one source
//! and host, or by point in time (`--at`): the newest snapshot taken at or
//! before a time, with a note of which one and how far before it was.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::repo::Repository;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Query {
    /// `latest`, an id or an id prefix; `latest` when absent.
    pub spec: Option<String>,
    /// Newest snapshot at or before this time.
    pub at: Option<jiff::Timestamp>,
    /// Only snapshots that include this source (as a source argument:
    /// `PATH` or `KIND:LOCATION`).
    pub source: Option<String>,
    pub host: Option<String>,
    /// Only snapshots of this stack holding every one of these components.
    pub stack: Option<(String, Vec<String>)>,
}

pub struct Selected {
    pub id: Id,
    pub snapshot: Snapshot,
    /// For `--at`: which snapshot was chosen and how far before the time.
    pub note: Option<String>,
}

/// `90061 s` → `1d 1h 1m 1s`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .skip_while(|(v, _)| *v == 0)
        .map(|(v, u)| format!("{v}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

fn source_matches(snap: &Snapshot, source: &str) -> bool {
    let spec = crate::source::SourceSpec::parse(std::ffi::OsStr::new(source));
    let plain = spec.location.to_string_lossy().into_owned();
    let canonical = spec.source.resolve(&spec.location).map(|r| r.0).unwrap_or_else(|_| {
        std::path::absolute(Path::new(&plain)).map(|p| p.display().to_string()).unwrap_or_default()
    });
    snap.sources.iter().any(|s| s.path == canonical || s.path == plain)
}

pub fn select(repo: &Repository, q: &Query) -> Result<Selected> {
    let spec = q.spec.as_deref().unwrap_or("latest");
    if spec != "latest" {
        if q.at.is_some() {
            return Err(Error::SnapshotTwice);
        }
        let (id, snapshot) = repo.resolve_snapshot(spec)?;
        return Ok(Selected { id, snapshot, note: None });
    }
    let mut all = repo.list_snapshots()?;
    if all.is_empty() {
        return Err(Error::NoSnapshots);
    }
    all.retain(|(_, s)| q.source.as_deref().is_none_or(|src| source_matches(s, src)));
    all.retain(|(_, s)| q.host.as_deref().is_none_or(|h| s.hostname == h));
    if let Some((name, want)) = &q.stack {
        all.retain(|(_, s)| {
            s.stack
                .as_ref()
                .is_some_and(|st| &st.name == name && want.iter().all(|w| st.components.iter().any(|c| &c.name == w)))
        });
        if all.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no snapshot of stack {name} holds {}: run `cairn backup --stack FILE` first",
                if want.is_empty() { "anything".to_string() } else { want.join(", ") }
            )));
        }
    }
    if all.is_empty() {
        let what = [q.source.as_deref().map(|s| format!("source {s}")), q.host.as_deref().map(|h| format!("host {h}"))];
        let what: Vec<String> = what.into_iter().flatten().collect();
        return Err(Error::InvalidArgument(format!(
            "no snapshot of {}: run `cairn snapshots` to see sources and hosts",
            what.join(" and ")
        )));
    }
    let Some(at) = q.at else {
        let (id, snapshot) = all.pop().expect("not empty");
        return Ok(Selected { id, snapshot, note: None });
    };
    let at_ns = at.as_nanosecond() as i64;
    let before: Vec<_> = all.iter().filter(|(_, s)| s.time_ns <= at_ns).collect();
    let Some((id, snapshot)) = before.last() else {
        return Err(Error::InvalidArgument(format!(
            "no snapshot was taken at or before {at}; the earliest is {}",
            all[0].1.time_string()
        )));
    };
    if q.source.is_none() {
        let series: std::collections::BTreeSet<_> = before.iter().map(|(_, s)| s.series()).collect();
        if series.len() > 1 {
            return Err(Error::AmbiguousSeries { count: series.len(), at: at.to_string() });
        }
    }
    let behind = ((at_ns - snapshot.time_ns) / 1_000_000_000) as u64;
    let note = format!(
        "using snapshot {} taken {}, {} before {at}",
        id.short(),
        snapshot.time_string(),
        human_duration(behind)
    );
    Ok(Selected { id: *id, snapshot: snapshot.clone(), note: Some(note) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::human_duration(0), "0s");
        assert_eq!(super::human_duration(59), "59s");
        assert_eq!(super::human_duration(3600), "1h 0m 0s");
        assert_eq!(super::human_duration(90061), "1d 1h 1m 1s");
    }
}

/// Which snapshots a command that covers many works on (`snapshots`,
/// `forget`, `tag`, `find`, `copy`): each non-empty field must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Any one group matches when the snapshot has every tag in it
    /// (restic's `--tag a,b --tag c`: a and b, or c).
    pub tags: Vec<Vec<String>>,
    /// Any of these hosts.
    pub hosts: Vec<String>,
    /// Every one of these sources (as source arguments).
    pub sources: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.hosts.is_empty() && self.sources.is_empty()
    }

    pub fn matches(&self, s: &Snapshot) -> bool {
        (self.hosts.is_empty() || self.hosts.contains(&s.hostname))
            && (self.tags.is_empty() || self.tags.iter().any(|g| g.iter().all(|t| s.tags.contains(t))))
            && self.sources.iter().all(|src| source_matches(s, src))
    }

    /// The repository's snapshots this filter matches, oldest first.
    pub fn list(&self, repo: &Repository) -> Result<Vec<(Id, Snapshot)>> {
        let mut all = repo.list_snapshots()?;
        all.retain(|(_, s)| self.matches(s));
        Ok(all)
    }
}

/// The `n` newest snapshots of each series (host and sources), oldest first.
pub fn latest(snaps: Vec<(Id, Snapshot)>, n: usize) -> Vec<(Id, Snapshot)> {
    let mut seen: std::collections::HashMap<(String, Vec<String>), usize> = Default::default();
    let mut kept: Vec<(Id, Snapshot)> = snaps
        .into_iter()
        .rev()
        .filter(|(_, s)| {
            let k = seen.entry((s.hostname.clone(), s.series())).or_default();
            *k += 1;
            *k <= n
        })
        .collect();
    kept.reverse();
    kept
}

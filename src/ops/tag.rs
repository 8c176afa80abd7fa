//! `tag`: change the tags of snapshots. A snapshot object is named by the
//! hash of its bytes, so new tags mean a new object: it is written first,
//! its protection (if any) carried over, and only then is the old one
//! deleted. Killed in between, both exist (a duplicate that `forget` can
//! remove), never neither; at every moment some snapshot references the
//! data, and a prune's grace period covers the step between listing and
//! reading (format-spec/prune.md).

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::PREFIX_SNAPSHOTS;
use crate::repo::marks;
use crate::repo::Repository;

/// How tags change: `set` replaces them all, then `remove` and `add` apply.
#[derive(Debug, Clone, Default)]
pub struct TagChange {
    pub set: Option<Vec<String>>,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl TagChange {
    /// The tags after the change, in order, each once.
    pub fn apply(&self, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let base = self.set.as_deref().unwrap_or(tags);
        for t in base.iter().chain(&self.add) {
            if !self.remove.contains(t) && !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }

    fn check(&self) -> Result<()> {
        if self.set.is_none() && self.add.is_empty() && self.remove.is_empty() {
            return Err(Error::InvalidArgument("tag: give --add, --remove or --set".into()));
        }
        let all = self.set.iter().flatten().chain(&self.add).chain(&self.remove);
        if let Some(bad) = all.into_iter().find(|t| t.is_empty() || t.contains(',')) {
            return Err(Error::InvalidArgument(format!("tag {bad:?}: a tag is not empty and has no ','")));
        }
        Ok(())
    }
}

/// One snapshot's change: its old id, its new id (None when its tags
/// stayed as they were), and its tags now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Retagged {
    pub old: String,
    pub new: Option<String>,
    pub tags: Vec<String>,
}

/// Change the tags of the snapshots `ids`.
pub fn retag(repo: &Repository, ids: &[Id], change: &TagChange) -> Result<Vec<Retagged>> {
    change.check()?;
    let protected = marks::protected(repo)?;
    let mut out = Vec::new();
    for id in ids {
        let mut snap = repo.load_snapshot(id)?;
        let tags = change.apply(&snap.tags);
        if tags == snap.tags {
            out.push(Retagged { old: id.to_hex(), new: None, tags });
            continue;
        }
        snap.tags = tags.clone();
        let new = repo.save_snapshot(&snap)?;
        if protected.contains(id) {
            marks::protect(repo, &new)?;
        }
        crate::failpoint::hit("tag-before-delete");
        repo.backend().delete(&format!("{PREFIX_SNAPSHOTS}{id}"))?;
        if protected.contains(id) {
            marks::unprotect(repo, id)?;
        }
        out.push(Retagged { old: id.to_hex(), new: Some(new.to_hex()), tags });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_remove_then_add() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = TagChange { set: None, add: v(&["b", "c"]), remove: v(&["a"]) };
        assert_eq!(c.apply(&v(&["a", "b"])), v(&["b", "c"]));
        let c = TagChange { set: Some(v(&["x"])), add: v(&["y"]), remove: vec![] };
        assert_eq!(c.apply(&v(&["a"])), v(&["x", "y"]));
        assert!(TagChange::default().check().is_err());
        assert!(TagChange { add: v(&["a,b"]), ..Default::default() }.check().is_err());
    }
}

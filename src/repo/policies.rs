//! `policies/<id>` objects: the repository's saved retention policy
//! (format-spec/retention.md), written by `forget --save-policy`, applied
//! by a later `forget` without rules of its own.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::{ObjectKind, PREFIX_POLICIES};
use crate::repo::Repository;
use crate::retention::{decode_saved, encode_saved, Policy, Saved};

/// The saved policy (the newest `policies/` object), if any. An object
/// that disappears while being read was replaced by a newer one, which the
/// listing holds too (`save` writes the new one before removing the old).
pub fn load(repo: &Repository) -> Result<Option<Policy>> {
    let mut newest: Option<Saved> = None;
    for o in repo.backend().list(PREFIX_POLICIES)? {
        let raw = match repo.get_sealed(&o.key, ObjectKind::Policy) {
            Err(Error::Backend(crate::backend::BackendError::NotFound { .. })) => continue,
            other => other?,
        };
        let s = decode_saved(&raw).map_err(|e| Error::format(&o.key, e))?;
        if newest.as_ref().is_none_or(|n| s.time_ns() > n.time_ns()) {
            newest = Some(s);
        }
    }
    newest.map(Saved::policy).transpose()
}

/// Save `p` as the repository's policy: a new object, then the old ones go.
pub fn save(repo: &Repository, p: &Policy) -> Result<()> {
    p.validate()?;
    let old = repo.backend().list(PREFIX_POLICIES)?;
    let raw = encode_saved(p, jiff::Timestamp::now().as_nanosecond() as i64);
    repo.put_sealed(&format!("{PREFIX_POLICIES}{}", Id::random()), ObjectKind::Policy, &raw)?;
    for o in old {
        repo.backend().delete(&o.key)?;
    }
    Ok(())
}

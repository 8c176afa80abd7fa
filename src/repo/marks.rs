//! Two small objects of the repository's life cycle (format-spec/prune.md):
//! protection markers (`protected/<snapshot id>`: `forget` never removes
//! that snapshot) and deletion marks (`marked/<random id>`: packs prune found
//! unreferenced, with the time of the mark; removed by a later prune once
//! the grace period has passed and they are still unreferenced).

use crate::backend::BackendError;
use crate::error::{Error, FormatError, Result};
use crate::format::decode::{decode, encode, Validate};
use crate::format::id::Id;
use crate::format::{ObjectKind, PREFIX_MARKED, PREFIX_PROTECTED};
use crate::repo::Repository;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Protect snapshot `id`: an object whose plaintext is the id itself.
pub fn protect(repo: &Repository, id: &Id) -> Result<()> {
    repo.put_sealed(&format!("{PREFIX_PROTECTED}{id}"), ObjectKind::Protection, &id.0)
}

pub fn unprotect(repo: &Repository, id: &Id) -> Result<bool> {
    let key = format!("{PREFIX_PROTECTED}{id}");
    match repo.backend().delete(&key) {
        Ok(()) => Ok(true),
        Err(BackendError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Every protected snapshot id. A marker is trusted only if it opens and
/// names the snapshot its key names.
pub fn protected(repo: &Repository) -> Result<std::collections::HashSet<Id>> {
    let mut out = std::collections::HashSet::new();
    for o in repo.backend().list(PREFIX_PROTECTED)? {
        let Some(id) = o.key.strip_prefix(PREFIX_PROTECTED).and_then(Id::parse) else { continue };
        let raw = match repo.get_sealed(&o.key, ObjectKind::Protection) {
            // Unprotected meanwhile.
            Err(Error::Backend(BackendError::NotFound { .. })) => continue,
            other => other?,
        };
        if raw != id.0 {
            return Err(Error::format(&o.key, FormatError::Decode("names another snapshot".into())));
        }
        out.insert(id);
    }
    Ok(out)
}

/// One deletion-marks object: packs and when each was marked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeletionMarks {
    /// (pack id, nanoseconds since the Unix epoch when it was marked).
    pub packs: Vec<(Id, i64)>,
}

impl Validate for DeletionMarks {
    /// Any list of (pack, time) is usable: marks only ever delay deletion
    /// or name packs that are then checked against the snapshots.
    fn validate(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// All deletion marks: the object keys, and every marked pack with its
/// earliest mark time. A marks object that disappears between listing and
/// reading was replaced by a prune, which wrote the new one first: the
/// listing is taken again and the new objects are read too.
pub fn load_marks(repo: &Repository) -> Result<(Vec<String>, HashMap<Id, i64>)> {
    let mut keys = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut packs: HashMap<Id, i64> = HashMap::new();
    for _ in 0..8 {
        let mut vanished = false;
        for o in repo.backend().list(PREFIX_MARKED)? {
            if !seen.insert(o.key.clone()) {
                continue;
            }
            let raw = match repo.get_sealed(&o.key, ObjectKind::DeletionMarks) {
                Err(Error::Backend(BackendError::NotFound { .. })) => {
                    vanished = true;
                    continue;
                }
                other => other?,
            };
            let m: DeletionMarks = decode(&raw).map_err(|e| Error::format(&o.key, e))?;
            for (p, t) in m.packs {
                let e = packs.entry(p).or_insert(t);
                *e = (*e).min(t);
            }
            keys.push(o.key);
        }
        if !vanished {
            return Ok((keys, packs));
        }
    }
    Err(Error::InvalidArgument("the deletion marks kept changing while they were read: run the command again".into()))
}

/// Store a new deletion-marks object (nothing if `packs` is empty).
pub fn save_marks(repo: &Repository, packs: &HashMap<Id, i64>) -> Result<Option<String>> {
    if packs.is_empty() {
        return Ok(None);
    }
    let mut list: Vec<(Id, i64)> = packs.iter().map(|(p, t)| (*p, *t)).collect();
    list.sort();
    let raw = encode(&DeletionMarks { packs: list });
    let key = format!("{PREFIX_MARKED}{}", Id::random());
    repo.put_sealed(&key, ObjectKind::DeletionMarks, &raw)?;
    Ok(Some(key))
}

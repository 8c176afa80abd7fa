//! `drills/<id>` objects: recovery drill results (format-spec/objects.md
//! "Drill record"), written by `drill`, listed by `drill --history`. Small,
//! sealed like every object; never read by backup, restore or prune.

use crate::error::{Error, Result};
use crate::format::drill::DrillRecord;
use crate::format::id::Id;
use crate::format::{ObjectKind, PREFIX_DRILLS};
use crate::repo::Repository;

/// Store one drill's record.
pub fn save(repo: &Repository, r: &DrillRecord) -> Result<()> {
    repo.put_sealed(&format!("{PREFIX_DRILLS}{}", Id::random()), ObjectKind::DrillRecord, &r.encode())
}

/// Every drill record, oldest first; an unreadable one is named in the
/// second list rather than stopping the listing.
pub fn list(repo: &Repository) -> Result<(Vec<DrillRecord>, Vec<String>)> {
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    for o in repo.backend().list(PREFIX_DRILLS)? {
        match repo
            .get_sealed(&o.key, ObjectKind::DrillRecord)
            .and_then(|raw| DrillRecord::decode(&raw).map_err(|e| Error::format(&o.key, e)))
        {
            Ok(r) => out.push(r),
            Err(e) => bad.push(e.to_string()),
        }
    }
    out.sort_by_key(|r| r.time_ns);
    Ok((out, bad))
}

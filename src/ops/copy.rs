//! `copy`: snapshots from one repository into another, each blob read
//! (decrypted and checked) from the source and stored again (compressed
//! and encrypted under the destination's keys) only when the destination
//! lacks it. This needs both to name chunks alike: the destination was
//! made with `init --from-repo SOURCE`, which gives it the source's id key
//! and chunker parameters (a new encryption key and password of its own),
//! as Borg's `transfer` and restic's `--copy-chunker-params` need. Trees
//! and manifests then copy unchanged, so a snapshot keeps its id.
//!
//! Per snapshot, the destination's commit protocol is the backup's: packs
//! first, then their index, then the snapshot (`ops::backup::commit`), so
//! an interrupted copy leaves only unreferenced packs.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::format::ObjectKind;
use crate::pipeline::write::{BlobWriter, Dedup};
use crate::progress::{Started, Totals};
use crate::repo::Repository;
use crate::source::reach::{Reached, Visitor};
use std::collections::HashSet;

/// One snapshot's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Copied {
    pub snapshot: String,
    /// False when the destination already had it.
    pub copied: bool,
    pub blobs_new: u64,
    pub bytes_new_stored: u64,
}

/// Refuse a pair that cannot copy: the same repository, or ids hashed
/// differently.
pub fn check_pair(from: &Repository, to: &Repository) -> Result<()> {
    if from.config.id == to.config.id {
        return Err(Error::InvalidArgument(
            "copy: the source and the destination are the same repository; give another --from-repo".into(),
        ));
    }
    if from.sealer().id_key() != to.sealer().id_key() || from.config.chunker != to.config.chunker {
        return Err(Error::InvalidArgument(
            "copy: the destination names chunks differently from the source; create it with `cairn init --from-repo SOURCE` (nothing was copied)".into(),
        ));
    }
    Ok(())
}

/// Copy `snaps` of `from` into `to`, oldest first.
pub fn copy(from: &Repository, to: &Repository, snaps: &[(Id, Snapshot)]) -> Result<Vec<Copied>> {
    check_pair(from, to)?;
    let have: HashSet<Id> = to.snapshot_ids()?.into_iter().collect();
    let _shown = Started::new(to.progress(), "copy", Totals { bytes: None, items: Some(snaps.len() as u64) });
    let mut out = Vec::new();
    for (id, snap) in snaps {
        to.progress().item(&format!("snapshot {}", id.short()));
        if have.contains(id) {
            out.push(Copied { snapshot: id.to_hex(), copied: false, blobs_new: 0, bytes_new_stored: 0 });
            continue;
        }
        let mut writer = BlobWriter::new(to, Dedup::Index);
        let walked = {
            let mut v = Transfer { from, writer: &mut writer, seen: HashSet::new() };
            crate::source::reach::walk(&mut |b| from.read_blob(b), &snap.tree, &mut v)
        };
        if let Err(e) = walked {
            return Err(writer.abort().unwrap_or(e));
        }
        let reused = (writer.reused_packs().clone(), writer.reused_dictionaries().clone());
        let written = writer.finish()?;
        let new = super::backup::commit(to, &written, &reused, snap)?;
        if new != *id {
            return Err(Error::InvalidArgument(format!("copy: snapshot {} was stored as {}", id.short(), new.short())));
        }
        to.progress().advance(0, 1);
        let s = &written.stats;
        out.push(Copied {
            snapshot: id.to_hex(),
            copied: true,
            blobs_new: s.blobs_new,
            bytes_new_stored: s.bytes_new_stored,
        });
    }
    Ok(out)
}

/// Stores every blob a walk reaches that the destination lacks.
struct Transfer<'a, 'r> {
    from: &'a Repository,
    writer: &'a mut BlobWriter<'r>,
    seen: HashSet<Id>,
}

impl Visitor for Transfer<'_, '_> {
    fn blob(&mut self, r: Reached) -> Result<bool> {
        if !self.seen.insert(*r.id) {
            return Ok(false);
        }
        if r.kind == ObjectKind::Dictionary {
            if self.writer.reuse_dictionary(r.id).is_none() {
                self.writer.store_dictionary(crate::repo::dicts::read(self.from, r.id)?)?;
            }
            return Ok(false);
        }
        if !self.writer.can_reuse(r.id) {
            let data = self.from.read_blob(r.id)?;
            let got = self.writer.add(r.kind, &data)?;
            if got != *r.id {
                return Err(Error::InvalidArgument(format!(
                    "copy: blob {} hashes to {} in the destination; create it with `cairn init --from-repo SOURCE`",
                    r.id.short(),
                    got.short()
                )));
            }
        }
        // Trees and manifests are walked on: what they name may be missing
        // even when they are not (a destination written to by a backup
        // interrupted between them).
        Ok(true)
    }
}

//! `dictionaries/<id>` objects: the zstd dictionaries page blobs are
//! compressed with (`seal::dict` says why; format-spec/sqlite.md). Loaded
//! into the repository's sealer when it opens; written by the blob writer
//! (`pipeline::write`) as part of a backup's commit; removed by prune when no
//! snapshot's manifest names them.

use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::{FormatError, ObjectKind, PREFIX_DICTIONARIES};
use crate::repo::Repository;

/// Backend key of a dictionary.
pub fn key(id: &Id) -> String {
    format!("{PREFIX_DICTIONARIES}{id}")
}

/// Ids of every stored dictionary.
pub fn ids(repo: &Repository) -> Result<Vec<Id>> {
    Ok(repo
        .backend()
        .list(PREFIX_DICTIONARIES)?
        .iter()
        .filter_map(|o| o.key.strip_prefix(PREFIX_DICTIONARIES).and_then(Id::parse))
        .collect())
}

/// Read dictionary `id`, checked against its id.
pub fn read(repo: &Repository, id: &Id) -> Result<Vec<u8>> {
    let k = key(id);
    let bytes = repo.get_sealed(&k, ObjectKind::Dictionary)?;
    let got = repo.sealer().id(&bytes);
    if got != *id {
        return Err(Error::format(&k, FormatError::HashMismatch { want: id.to_hex(), got: got.to_hex() }));
    }
    Ok(bytes)
}

/// Load every dictionary into the repository's sealer. A damaged one is
/// skipped and returned as a problem (`check` reports it): only the blobs
/// compressed with it become unreadable, and they say which dictionary.
pub fn load_all(repo: &Repository) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for id in ids(repo)? {
        if repo.sealer().dicts().by_id(&id).is_some() {
            continue;
        }
        match read(repo, &id) {
            Ok(bytes) => {
                repo.sealer().dicts().insert(id, bytes, repo.config.compression_level);
            }
            // Removed between listing and reading: nothing uses it any more.
            Err(Error::Backend(crate::backend::BackendError::NotFound { .. })) => {}
            Err(e) => problems.push(format!("{}: unreadable: {e}", key(&id))),
        }
    }
    Ok(problems)
}

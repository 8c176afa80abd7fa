//! Key management of an encrypted repository: unlocking with a password,
//! listing, adding and removing key files under `keys/`.

use crate::backend::Backend;
use crate::error::{Error, FormatError, Result};
use crate::format::id::Id;
use crate::format::PREFIX_KEYS;
use crate::repo::Repository;
use crate::seal::crypto::{KdfParams, MasterKey};
use crate::seal::keyfile::{self, KeyFile};
use std::sync::Arc;

/// Store a new key file wrapping `master` under `password`; returns its id.
pub fn write_key(backend: &dyn Backend, master: &MasterKey, password: &str, params: KdfParams) -> Result<String> {
    if password.is_empty() {
        return Err(Error::InvalidArgument("empty password: choose a non-empty one".into()));
    }
    let host = crate::sys::hostname();
    let user = std::env::var("USER").unwrap_or_default();
    let bytes = keyfile::create(master, password.as_bytes(), params, &host, &user)
        .map_err(|e| Error::format("new key file", e))?;
    let id = Id::random().to_hex();
    backend.put(&format!("{PREFIX_KEYS}{id}"), &bytes)?;
    Ok(id)
}

/// Try `password` against every key file. Returns the master key and the id
/// of the key file that opened it; damaged key files are named in the error.
pub fn unlock(backend: &dyn Backend, password: &[u8]) -> Result<(Arc<MasterKey>, String)> {
    let keys = backend.list(PREFIX_KEYS)?;
    if keys.is_empty() {
        return Err(Error::NoKeys);
    }
    let mut damaged = Vec::new();
    for k in &keys {
        let bytes = backend.get(&k.key)?;
        let file = match KeyFile::parse(&bytes) {
            Ok(f) => f,
            Err(e) => {
                damaged.push(format!("{}: {e}", k.key));
                continue;
            }
        };
        match file.unlock(password) {
            Ok(master) => return Ok((Arc::new(master), k.key[PREFIX_KEYS.len()..].to_string())),
            Err(FormatError::Authentication) => {}
            Err(e) => damaged.push(format!("{}: {e}", k.key)),
        }
    }
    let damaged = if damaged.is_empty() { String::new() } else { format!("; damaged: {}", damaged.join(", ")) };
    let tried = keys.iter().map(|k| k.key.as_str()).collect::<Vec<_>>().join(", ");
    Err(Error::WrongPassword { tried, damaged })
}

/// One key file, as listed.
pub struct KeyInfo {
    pub id: String,
    pub current: bool,
    pub file: Result<KeyFile>,
}

pub fn list(repo: &Repository) -> Result<Vec<KeyInfo>> {
    if !repo.sealer().is_encrypted() {
        return Err(Error::NotEncrypted);
    }
    let mut out = Vec::new();
    for k in repo.backend().list(PREFIX_KEYS)? {
        let id = k.key[PREFIX_KEYS.len()..].to_string();
        let file = repo
            .backend()
            .get(&k.key)
            .map_err(Error::from)
            .and_then(|b| KeyFile::parse(&b).map_err(|e| Error::format(&k.key, e)));
        out.push(KeyInfo { current: repo.key_id() == Some(id.as_str()), id, file });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Add a key file for `password`; returns its id.
pub fn add(repo: &Repository, password: &str, params: KdfParams) -> Result<String> {
    let master = repo.sealer().key().ok_or(Error::NotEncrypted)?;
    write_key(&**repo.backend(), master, password, params)
}

/// Resolve a key id or unique prefix.
pub fn resolve(repo: &Repository, prefix: &str) -> Result<String> {
    let ids: Vec<String> = list(repo)?.into_iter().map(|k| k.id).filter(|id| id.starts_with(prefix)).collect();
    match ids.len() {
        1 => Ok(ids[0].clone()),
        0 => Err(Error::KeyNotFound(prefix.to_string())),
        n => Err(Error::InvalidArgument(format!(
            "key prefix {prefix:?} is ambiguous ({n} keys match): give more characters"
        ))),
    }
}

/// Remove a key file; the last one is never removed.
pub fn remove(repo: &Repository, id: &str) -> Result<()> {
    let all = list(repo)?;
    if !all.iter().any(|k| k.id == id) {
        return Err(Error::KeyNotFound(id.to_string()));
    }
    if all.len() <= 1 {
        return Err(Error::LastKey);
    }
    repo.backend().delete(&format!("{PREFIX_KEYS}{id}"))?;
    Ok(())
}

/// Replace the key that opened the repository by one for `new_password`:
/// the new key file is written before the old one is removed.
pub fn change_password(repo: &Repository, new_password: &str, params: KdfParams) -> Result<String> {
    let old = repo.key_id().ok_or(Error::NotEncrypted)?.to_string();
    let new = add(repo, new_password, params)?;
    repo.backend().delete(&format!("{PREFIX_KEYS}{old}"))?;
    Ok(new)
}

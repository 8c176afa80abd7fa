//! Restore of a SQLite snapshot: pages are written into a temporary file
//! beside the target, fsynced, verified (page hashes against the manifest,
//! `integrity_check`, `foreign_key_check`, recorded row counts and versions,
//! the user's assertions) and only then moved into place.
//!
//! Two modes. *New path* (zero-downtime): the target does not exist; the
//! verified file is renamed to it, and `--switch-symlink` then repoints a
//! symlink atomically so an application opening the link picks the new file
//! up on its next open. *Fast* (`--overwrite`): the live file is replaced;
//! it is first hard-linked to a rollback copy (with its `-wal`/`-shm` moved
//! beside that copy, since they belong to the old file), the new file is
//! renamed over it, re-checked in place, and put back if anything fails.

use super::manifest::SqliteManifest;
use super::{Assertion, SqliteError};
use crate::error::{Error, Result};
use crate::format::id::Id;
use crate::format::tree::Node;
use crate::format::ObjectKind;
use crate::pipeline::read::read_all;
use crate::repo::Repository;
use crate::source::sibling;
use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How a database is restored, beyond where to.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Keep the fast mode's rollback copy after success.
    pub keep_rollback: bool,
    /// Repoint this symlink at the restored file once it is verified.
    pub switch_symlink: Option<PathBuf>,
    pub assertions: Vec<Assertion>,
    /// Leave out `PRAGMA foreign_key_check`: for a schema whose references
    /// are broken by design (Chroma's `segments` names a table `collection`
    /// that does not exist, so every row violates it).
    pub skip_foreign_key_check: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DbRestoreReport {
    pub path: PathBuf,
    /// "new-path" or "fast".
    pub mode: &'static str,
    pub rollback: Option<PathBuf>,
    pub symlink: Option<PathBuf>,
    pub pages: u64,
    pub bytes: u64,
    /// Every check that passed, in order.
    pub checks: Vec<String>,
}

/// Load the manifest a `Sqlite` node names.
pub fn load_manifest(repo: &Repository, node: &Node) -> Result<(Id, SqliteManifest)> {
    let id = *node
        .content
        .first()
        .ok_or_else(|| Error::format("sqlite node", crate::format::FormatError::Decode("no manifest id".into())))?;
    Ok((id, SqliteManifest::decode(&id, &read_kind(repo, &id, ObjectKind::SqliteManifest)?)?))
}

fn read_kind(repo: &Repository, id: &Id, kind: ObjectKind) -> Result<Vec<u8>> {
    match repo.locate(id) {
        Some(loc) if loc.kind != kind => Err(Error::format(
            format!("blob {id}"),
            crate::format::FormatError::WrongKind { expected: kind.name(), found: loc.kind as u8 },
        )),
        _ => repo.read_blob(id),
    }
}

/// The ordered page ids of a database node: its lists and patches
/// resolved (`idlist::resolve`), each blob checked to be indexed as its kind.
pub fn page_ids(repo: &Repository, _node: &Node, m: &SqliteManifest) -> Result<Vec<Id>> {
    let ids = crate::source::idlist::resolve_in(repo, &m.pages())?;
    if ids.len() as u64 != m.page_count {
        let why = format!("page lists hold {} pages, the manifest says {}", ids.len(), m.page_count);
        return Err(Error::format("sqlite manifest", crate::format::FormatError::Decode(why)));
    }
    Ok(ids)
}

/// Restore the database `node` to `target`; an existing file is replaced
/// only with `overwrite` (fast mode).
pub fn restore_db(
    repo: &Repository,
    node: &Node,
    target: &Path,
    overwrite: bool,
    opts: &RestoreOptions,
) -> Result<DbRestoreReport> {
    let target = &target.to_path_buf();
    let tw = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::from(SqliteError::TargetWrite { path: p, source })
    };
    let exists = match fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => return Err(SqliteError::TargetExists(target.clone()).into()),
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(tw(target)(e)),
    };
    if exists && !overwrite {
        return Err(SqliteError::TargetExists(target.clone()).into());
    }
    if let Some(link) = &opts.switch_symlink {
        // Checked before any work, so a refusal leaves nothing behind.
        if fs::symlink_metadata(link).is_ok_and(|m| !m.file_type().is_symlink()) {
            return Err(SqliteError::NotASymlink(link.clone()).into());
        }
    }
    let (_, m) = load_manifest(repo, node)?;
    let ids = page_ids(repo, node, &m)?;
    let tmp = sibling(target, "cairn-restore");
    let file = OpenOptions::new().write(true).read(true).create_new(true).mode(0o600).open(&tmp).map_err(tw(&tmp))?;
    let written = write_pages(repo, &file, &ids, m.page_size as u64)
        .and_then(|()| file.sync_all().map_err(tw(&tmp)))
        .and_then(|()| verify(&tmp, &m, opts));
    let checks = match written {
        Ok(c) => c,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let _ = file.set_permissions(fs::Permissions::from_mode(node.mode & 0o7777));
    drop(file);
    let dir = parent(target);
    let mut report = DbRestoreReport {
        path: target.clone(),
        mode: if exists { "fast" } else { "new-path" },
        rollback: None,
        symlink: None,
        pages: m.page_count,
        bytes: m.db_size(),
        checks,
    };
    if exists {
        report.rollback = swap_fast(&tmp, target, opts.keep_rollback, &m)?;
    } else {
        fs::rename(&tmp, target).map_err(tw(target)).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })?;
        // A -wal or -shm without its database is stale by definition.
        for suffix in ["-wal", "-shm"] {
            let _ = fs::remove_file(with_suffix(target, suffix));
        }
    }
    sync_dir(&dir);
    if let Some(link) = &opts.switch_symlink {
        switch_symlink(link, target)?;
        report.symlink = Some(link.clone());
    }
    Ok(report)
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn sync_dir(dir: &Path) {
    // Best effort: the renames are done; a failed directory fsync only
    // weakens their durability, it cannot undo them.
    let _ = crate::backend::local::fsync_dir(dir);
}

/// Write every page at its offset: blobs are read pack by pack in
/// coalesced ranges (`pipeline::read`), verified against their ids, and
/// written to every page that holds them.
fn write_pages(repo: &Repository, file: &File, ids: &[Id], page_size: u64) -> Result<()> {
    let tw = |source| Error::from(SqliteError::TargetWrite { path: PathBuf::from("restore temporary file"), source });
    file.set_len(page_size * ids.len() as u64).map_err(tw)?;
    let mut pages_of: HashMap<Id, Vec<u64>> = HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        pages_of.entry(*id).or_default().push(i as u64);
    }
    let unique: Vec<Id> = pages_of.keys().copied().collect();
    let what = |id: &Id| {
        let pages: Vec<String> = pages_of[id].iter().take(3).map(|p| (p + 1).to_string()).collect();
        format!("page {} of the database", pages.join(", "))
    };
    read_all(repo, &unique, &what, &|id, page| {
        if page.len() as u64 != page_size {
            let why = format!("page blob {id} holds {} bytes, the page size is {page_size}", page.len());
            return Err(Error::format("sqlite page", crate::format::FormatError::Decode(why)));
        }
        for p in &pages_of[id] {
            file.write_all_at(page, p * page_size).map_err(tw)?;
        }
        Ok(())
    })
    .map(|_| ())
}

/// SQLite's checks on the restored file, which must all pass before it may
/// replace anything. (That its pages match the manifest was checked as each
/// was written: every blob is verified against its page id on the way.)
/// `integrity_check`, the longest, runs on its own connection in parallel
/// with the rest.
fn verify(path: &Path, m: &SqliteManifest, opts: &RestoreOptions) -> Result<Vec<String>> {
    let fail = |why: String| Error::from(SqliteError::VerifyFailed { path: path.to_path_buf(), why });
    let mut checks = vec![format!("{} page hashes match the manifest", m.page_count)];
    if m.page_count == 0 {
        return Ok(checks);
    }
    let (integrity, rest) = std::thread::scope(|s| {
        let ic = s.spawn(|| -> Result<()> {
            let ic = Checker::open(path)?.lines("PRAGMA integrity_check(5)")?;
            if ic != ["ok"] {
                return Err(fail(format!("integrity_check: {}", ic.join("; "))));
            }
            Ok(())
        });
        let rest = Checker::open(path).and_then(|c| c.other_checks(m, opts));
        (ic.join().expect("integrity check thread"), rest)
    });
    integrity?;
    checks.push("integrity_check ok".into());
    checks.extend(rest?);
    Ok(checks)
}

/// A read-only connection to a restored file, opened immutable (no locks,
/// no -wal/-shm created beside it).
struct Checker<'a> {
    db: Connection,
    path: &'a Path,
}

impl<'a> Checker<'a> {
    fn open(path: &'a Path) -> Result<Self> {
        let uri = format!("file:{}?immutable=1", uri_path(path));
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let db = Connection::open_with_flags(&uri, flags).map_err(|e| self_fail(path, format!("open: {e}")))?;
        Ok(Checker { db, path })
    }

    /// Every row of `sql`, columns joined by `|`, as text.
    fn lines(&self, sql: &str) -> Result<Vec<String>> {
        let fail = |e: rusqlite::Error| self_fail(self.path, format!("{sql}: {e}"));
        let mut st = self.db.prepare(sql).map_err(fail)?;
        let rows = st.query_map([], |r| {
            let n = r.as_ref().column_count();
            Ok((0..n).map(|i| value_text(r.get_ref(i).ok())).collect::<Vec<_>>().join("|"))
        });
        rows.and_then(|r| r.collect()).map_err(fail)
    }

    fn other_checks(&self, m: &SqliteManifest, opts: &RestoreOptions) -> Result<Vec<String>> {
        let fail = |why: String| self_fail(self.path, why);
        let asserts = &opts.assertions;
        let mut checks = Vec::new();
        if !opts.skip_foreign_key_check {
            let fk = self.lines("PRAGMA foreign_key_check")?;
            if !fk.is_empty() {
                return Err(fail(format!("foreign_key_check: {} violation(s), first {}", fk.len(), fk[0])));
            }
            checks.push("foreign_key_check ok".into());
        }
        for t in &m.tables {
            let Some(rows) = t.rows else { continue };
            let q = format!("SELECT count(*) FROM \"{}\"", t.name.replace('"', "\"\""));
            let got = self.lines(&q)?.first().cloned().unwrap_or_default();
            if got != rows.to_string() {
                return Err(fail(format!("table {} has {got} rows, {rows} were recorded", t.name)));
            }
        }
        checks.push(format!("row counts of {} tables match", m.tables.len()));
        for (pragma, want) in [("user_version", m.user_version), ("schema_version", m.schema_version)] {
            let got = self.lines(&format!("PRAGMA {pragma}"))?.first().cloned().unwrap_or_default();
            // The backup API bumps its copy's schema cookie: only user_version is exact there.
            let exact = pragma == "user_version" || m.method == super::manifest::CaptureMethod::Dbpage;
            if got != want.to_string() && exact {
                return Err(fail(format!("{pragma} is {got}, {want} was recorded")));
            }
        }
        checks.push("user_version and schema_version match".into());
        for a in asserts {
            let got = self.lines(&a.sql)?.first().cloned().unwrap_or_else(|| "(no rows)".into());
            if got != a.expected {
                let why = format!("assertion {} failed: {} returned {got}, expected {}", a.name, a.sql, a.expected);
                return Err(fail(why));
            }
            checks.push(format!("assertion {} ok", a.name));
        }
        Ok(checks)
    }
}

fn self_fail(path: &Path, why: String) -> Error {
    SqliteError::VerifyFailed { path: path.to_path_buf(), why }.into()
}

/// A value as text, as assertions compare it (restore and `integrity` alike).
pub(crate) fn value_text(v: Option<rusqlite::types::ValueRef<'_>>) -> String {
    use rusqlite::types::ValueRef::*;
    match v {
        Some(Integer(i)) => i.to_string(),
        Some(Real(f)) => f.to_string(),
        Some(Text(t)) => String::from_utf8_lossy(t).into_owned(),
        Some(Blob(b)) => hex::encode(b),
        Some(Null) | None => "NULL".into(),
    }
}

/// Percent-encode what a SQLite URI path cannot hold literally.
pub(crate) fn uri_path(p: &Path) -> String {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = String::new();
    for b in abs.as_os_str().as_encoded_bytes() {
        match b {
            b'?' | b'#' | b'%' | b'&' | b'=' => out.push_str(&format!("%{b:02X}")),
            b if b.is_ascii_graphic() || *b == b' ' => out.push(*b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Fast mode: keep the live file as a rollback copy, move the verified file
/// over it, re-check it in place, and put the old one back on any failure.
fn swap_fast(tmp: &Path, target: &Path, keep: bool, m: &SqliteManifest) -> Result<Option<PathBuf>> {
    let rollback = sibling(target, "cairn-rollback");
    let tw = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::from(SqliteError::TargetWrite { path: p, source })
    };
    if let Err(e) = fs::hard_link(target, &rollback) {
        let _ = fs::remove_file(tmp);
        return Err(tw(target)(e));
    }
    // The old file's WAL and shared memory go with it: a WAL left beside the
    // new file would be replayed into it.
    let moved: Vec<(PathBuf, PathBuf)> = ["-wal", "-shm"]
        .iter()
        .map(|s| (with_suffix(target, s), with_suffix(&rollback, s)))
        .filter(|(from, to)| fs::rename(from, to).is_ok())
        .collect();
    let put_back = |e: Error| -> Error {
        let _ = fs::rename(&rollback, target);
        for (from, to) in &moved {
            let _ = fs::rename(to, from);
        }
        let _ = fs::remove_file(tmp);
        sync_dir(&parent(target));
        e
    };
    fs::rename(tmp, target).map_err(tw(target)).map_err(put_back)?;
    sync_dir(&parent(target));
    // In place: the file under the live name is the one verified.
    let size = fs::metadata(target).map(|md| md.len()).map_err(tw(target)).map_err(put_back)?;
    if size != m.db_size() {
        let why = format!("{size} bytes after the rename, expected {}", m.db_size());
        return Err(put_back(SqliteError::VerifyFailed { path: target.to_path_buf(), why }.into()));
    }
    if keep {
        return Ok(Some(rollback));
    }
    let _ = fs::remove_file(&rollback);
    for (_, to) in &moved {
        let _ = fs::remove_file(to);
    }
    Ok(None)
}

/// Point `link` at `target` atomically: a new symlink under a temporary
/// name renamed over the old one.
fn switch_symlink(link: &Path, target: &Path) -> Result<()> {
    let tw = |source| Error::from(SqliteError::TargetWrite { path: link.to_path_buf(), source });
    let abs = std::path::absolute(target).map_err(tw)?;
    let tmp = sibling(link, "cairn-link");
    std::os::unix::fs::symlink(&abs, &tmp).map_err(tw)?;
    fs::rename(&tmp, link).map_err(tw).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    sync_dir(&parent(link));
    Ok(())
}

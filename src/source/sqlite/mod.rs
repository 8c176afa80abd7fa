//! SQLite databases as a source: consistent online capture page by page
//! (`capture`), the manifest that records it (`manifest`), and restore with
//! verification before anything replaces a live file (`restore`).
//! format-spec/sqlite.md describes the objects and the protocol.

pub mod capture;
pub mod manifest;
pub mod restore;
pub mod sink;

pub use capture::CaptureOptions;
pub use restore::RestoreOptions;

use crate::error::Result;
use crate::format::snapshot::SourceKind;
use crate::format::tree::{Node, NodeKind};
use crate::format::ObjectKind;
use crate::pipeline::write::BlobWriter;
use crate::repo::Repository;
use crate::source::reach::Walk;
use crate::source::{CaptureStats, Captured, Report};
use crate::sys::human;
use manifest::SqliteManifest;
use std::path::{Path, PathBuf};

/// SQLite databases are recorded in snapshots under this code…
pub const KIND: SourceKind = SourceKind(1);
/// …and stored as nodes of this kind (format 3; format-spec/sqlite.md).
pub const NODE_KIND: NodeKind = NodeKind::Source(3);

/// The SQLite source kind (`sqlite:PATH`).
pub struct Sqlite;

impl crate::source::Source for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn kind(&self) -> SourceKind {
        KIND
    }
    fn node_kind(&self) -> Option<NodeKind> {
        Some(NODE_KIND)
    }
    fn report_group(&self) -> Option<&'static str> {
        Some("databases")
    }

    fn capture(
        &self,
        w: &mut BlobWriter,
        location: &str,
        name: Vec<u8>,
        parent: Option<&Node>,
        o: &crate::source::CaptureOptions,
    ) -> Result<Captured> {
        let c = capture::capture(w, Path::new(location), name, parent, &o.sqlite)?;
        let m = &c.manifest;
        let size = m.db_size();
        let stats = CaptureStats { bytes_read: size, bytes_logical: size, ..Default::default() };
        let json = serde_json::json!({
            "path": location, "page_size": m.page_size, "pages": m.page_count, "bytes": size,
            "journal_mode": m.journal_mode, "method": m.method, "integrity": m.integrity,
            "hold_ms": m.hold_ms, "user_version": m.user_version, "tables": m.tables.len(),
        });
        let text = format!(
            "database {location}: {} pages of {} ({}, {} mode), read transaction held {} ms",
            m.page_count,
            human(m.page_size as u64),
            human(size),
            m.journal_mode,
            m.hold_ms
        );
        let report = Some(Report { group: "databases", json, text });
        Ok(Captured { node: Some(c.node), stats, report, warnings: c.warnings })
    }

    /// The manifest, its dictionary, its page lists and their pages.
    fn reach(&self, walk: &mut Walk, node: &Node, path: &Path) -> Result<()> {
        let id = &node.content[0];
        if !walk.reached(id, ObjectKind::SqliteManifest, path, None)? {
            return Ok(());
        }
        let Some(bytes) = walk.read(id, path)? else { return Ok(()) };
        let m = match SqliteManifest::decode(id, &bytes) {
            Ok(m) => m,
            Err(e) => return walk.failed(id, path, e),
        };
        // Not a blob: the `dictionaries/` object its pages were compressed with.
        if let Some(d) = &m.dictionary {
            walk.reached(d, ObjectKind::Dictionary, path, None)?;
        }
        crate::source::idlist::reach(walk, &m.pages(), path, true)
    }

    fn parts(&self, repo: &Repository, node: &Node) -> Result<Vec<crate::source::Part>> {
        let (_, m) = restore::load_manifest(repo, node)?;
        let ids = restore::page_ids(repo, node, &m)?;
        let path = String::from_utf8_lossy(&node.name).into_owned();
        let stored = crate::source::stored_bytes(repo, &ids);
        Ok(vec![crate::source::Part {
            path,
            size: m.db_size(),
            stored,
            chunking: "sqlite-pages".into(),
            units: ids,
            unit: crate::source::Unit::Pages,
        }])
    }

    fn restore(
        &self,
        repo: &Repository,
        node: &Node,
        target: &Path,
        o: &crate::source::RestoreOptions,
    ) -> Result<Report> {
        let r = restore::restore_db(repo, node, target, o.overwrite, &o.sqlite)?;
        let mut text = format!(
            "restored database {} ({}, {} pages, {}); verified: {}",
            r.path.display(),
            r.mode,
            r.pages,
            human(r.bytes),
            r.checks.join(", ")
        );
        if let Some(rb) = &r.rollback {
            text.push_str(&format!("\nrollback copy of the replaced database: {}", rb.display()));
        }
        if let Some(l) = &r.symlink {
            text.push_str(&format!("\n{} now points to {}", l.display(), r.path.display()));
        }
        let json = serde_json::to_value(&r).expect("a report serialises");
        Ok(Report { group: "databases", json, text })
    }
}

/// Errors of the SQLite source and restore, each naming the database.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("{} is not a SQLite database (or it is encrypted): check the path; nothing was written", .0.display())]
    NotADatabase(PathBuf),
    #[error("{} stayed locked by another connection for more than {secs}s (the maximum hold); no snapshot was written: retry when the writer is idle or allow a longer hold", path.display())]
    Locked { path: PathBuf, secs: f64 },
    #[error("reading {} took longer than the maximum hold of {secs}s, so the read transaction was ended to stop holding up writers; no snapshot was written: allow a longer hold", path.display())]
    HoldExceeded { path: PathBuf, secs: f64 },
    #[error("SQLite error on {} while {what}: {source}", path.display())]
    Sql { path: PathBuf, what: &'static str, source: rusqlite::Error },
    #[error("restored database {} failed verification: {why}; the live database was not changed", path.display())]
    VerifyFailed { path: PathBuf, why: String },
    #[error("{} already exists: allow overwriting to replace it (fast mode, the old file is kept until the new one passes every check) or restore to a new path", .0.display())]
    TargetExists(PathBuf),
    #[error("the symlink to switch, {}, exists and is not a symlink; give the symlink the application opens", .0.display())]
    NotASymlink(PathBuf),
    #[error("cannot write {}: {source}; the live database was not changed", path.display())]
    TargetWrite { path: PathBuf, source: std::io::Error },
    #[error("assertion {0:?} is not NAME=SQL=EXPECTED (e.g. orphans=SELECT count(*) FROM episodes WHERE project_id NOT IN (SELECT id FROM projects)=0)")]
    BadAssertion(String),
}

crate::error::source_error!(SqliteError, VerifyFailed);

impl SqliteError {
    pub(crate) fn sql<'a>(path: &'a std::path::Path, what: &'static str) -> impl FnOnce(rusqlite::Error) -> Self + 'a {
        move |source| {
            let not_db =
                matches!(&source, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::NotADatabase);
            if not_db {
                SqliteError::NotADatabase(path.to_path_buf())
            } else {
                SqliteError::Sql { path: path.to_path_buf(), what, source }
            }
        }
    }
}

/// Open a live database read-only without creating anything beside it.
/// A read-only connection to a WAL database creates its `-wal` and `-shm`
/// when they are missing; they are missing only when no connection has the
/// database open, so it is then opened `immutable` instead (a writer that
/// starts meanwhile can at worst make a check fail, never change the file).
pub fn open_untouched(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    let uri = if wal.exists() {
        format!("file:{}?mode=ro", restore::uri_path(path))
    } else {
        format!("file:{}?immutable=1", restore::uri_path(path))
    };
    rusqlite::Connection::open_with_flags(uri, flags)
}

/// A user's check on a restored database: `SQL`'s first column of its first
/// row, as text, must equal `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub name: String,
    pub sql: String,
    pub expected: String,
}

impl std::str::FromStr for Assertion {
    type Err = SqliteError;
    /// `NAME=SQL=EXPECTED`: split at the first and the last `=`, so the SQL
    /// may itself contain `=`.
    fn from_str(s: &str) -> Result<Self, SqliteError> {
        let bad = || SqliteError::BadAssertion(s.to_string());
        let (name, rest) = s.split_once('=').ok_or_else(bad)?;
        let (sql, expected) = rest.rsplit_once('=').ok_or_else(bad)?;
        if name.trim().is_empty() || sql.trim().is_empty() {
            return Err(bad());
        }
        Ok(Assertion { name: name.trim().into(), sql: sql.trim().into(), expected: expected.trim().into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_parsing() {
        let a: Assertion = "orphans=SELECT count(*) FROM e WHERE p = 3=0".parse().unwrap();
        assert_eq!(
            (a.name.as_str(), a.sql.as_str(), a.expected.as_str()),
            ("orphans", "SELECT count(*) FROM e WHERE p = 3", "0")
        );
        assert!("nothing".parse::<Assertion>().is_err());
        assert!("a=b".parse::<Assertion>().is_err());
        assert!("=SELECT 1=1".parse::<Assertion>().is_err());
    }
}

//! SQLite databases as a source: consistent online capture page by page
//! (`capture`), the manifest that records it (`manifest`), and restore with
//! verification before anything replaces a live file (`restore`).
//! format-spec/sqlite.md describes the objects and the protocol.

pub mod capture;
pub mod manifest;
pub mod restore;
pub mod sink;

use std::path::PathBuf;

/// Errors of the SQLite source and restore, each naming the database.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("{} is not a SQLite database (or it is encrypted): check the path; nothing was written", .0.display())]
    NotADatabase(PathBuf),
    #[error("{} stayed locked by another connection for more than {secs}s (--max-hold); no snapshot was written: retry when the writer is idle or raise --max-hold", path.display())]
    Locked { path: PathBuf, secs: f64 },
    #[error("reading {} took longer than --max-hold {secs}s, so the read transaction was ended to stop holding up writers; no snapshot was written: raise --max-hold", path.display())]
    HoldExceeded { path: PathBuf, secs: f64 },
    #[error("SQLite error on {} while {what}: {source}", path.display())]
    Sql { path: PathBuf, what: &'static str, source: rusqlite::Error },
    #[error("restored database {} failed verification: {why}; the live database was not changed", path.display())]
    VerifyFailed { path: PathBuf, why: String },
    #[error("{} already exists: pass --overwrite to replace it (fast mode, the old file is kept until the new one passes every check) or restore to a new path", .0.display())]
    TargetExists(PathBuf),
    #[error("--switch-symlink {}: it exists and is not a symlink; give the symlink the application opens", .0.display())]
    NotASymlink(PathBuf),
    #[error("cannot write {}: {source}; the live database was not changed", path.display())]
    TargetWrite { path: PathBuf, source: std::io::Error },
    #[error("--assert {0:?} is not NAME=SQL=EXPECTED (e.g. orphans=SELECT count(*) FROM episodes WHERE project_id NOT IN (SELECT id FROM projects)=0)")]
    BadAssertion(String),
}

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

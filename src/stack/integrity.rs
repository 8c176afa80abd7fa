//! `cairn integrity`: the operations guide's daily check of the live data,
//! writing nothing to it. Per component kind:
//! - sqlite: opened read-only; `PRAGMA quick_check` (`integrity_check`
//!   with `full`), `PRAGMA foreign_key_check`, and each assertion of the
//!   stack file (a read-only statement returning exactly one value, which
//!   must equal the expected text);
//! - chroma: its database's `quick_check` and catalogue, every vector
//!   segment present and consistent (`source::chroma::segments`);
//! - redis: reachable, not loading, the last RDB save and AOF write `ok`;
//! - files: the path present and readable.
//!
//! Each finding is one `Check`; a drill runs the same checks on a restored
//! copy (`check_component` with the copy's location).

use super::file::{Component, StackFile};
use crate::source::sqlite::Assertion;
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// One check and its outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub component: String,
    pub kind: &'static str,
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// Options beyond the stack file.
#[derive(Debug, Clone, Default)]
pub struct IntegrityOptions {
    /// `integrity_check` instead of `quick_check`.
    pub full: bool,
    /// The Redis password when the component names no file.
    pub redis_password: Option<String>,
}

/// Check the live components `only` names (all when empty).
pub fn run(stack: &StackFile, only: &[String], o: &IntegrityOptions) -> crate::Result<Vec<Check>> {
    let mut out = Vec::new();
    for c in stack.select(only)? {
        out.extend(check_component(c, &c.spec.location.to_string_lossy(), o));
    }
    Ok(out)
}

/// Check component `c` at `location` (its live path or URL, or a copy).
pub fn check_component(c: &Component, location: &str, o: &IntegrityOptions) -> Vec<Check> {
    let kind = c.kind().name();
    let one = |check: &str, r: Result<String, String>| {
        let (ok, detail) = match r {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        Check { component: c.name.clone(), kind, check: check.into(), ok, detail }
    };
    match kind {
        "sqlite" => {
            sqlite(Path::new(location), &c.assertions, o.full).into_iter().map(|(check, r)| one(&check, r)).collect()
        }
        "chroma" => {
            vec![one("chroma", crate::source::chroma::segments::check_live(Path::new(location)).map(|v| v.join("; ")))]
        }
        "redis" => {
            let pw = match &c.password_file {
                Some(f) => std::fs::read_to_string(f).ok().map(|t| t.trim_end_matches(['\r', '\n']).to_string()),
                None => o.redis_password.clone(),
            };
            vec![one("redis", redis(location, pw.as_deref()))]
        }
        _ => vec![one("readable", files(Path::new(location)))],
    }
}

/// The checks of one database: (name, outcome).
fn sqlite(path: &Path, assertions: &[Assertion], full: bool) -> Vec<(String, Result<String, String>)> {
    if !path.is_file() {
        return vec![("open".into(), Err(format!("{} is missing", path.display())))];
    }
    let db = match crate::source::sqlite::open_untouched(path) {
        Ok(db) => db,
        Err(e) => return vec![("open".into(), Err(format!("cannot open {} read-only: {e}", path.display())))],
    };
    let _ = db.busy_timeout(Duration::from_secs(10));
    let pragma = if full { "integrity_check" } else { "quick_check" };
    let mut out = vec![(
        pragma.to_string(),
        rows(&db, &format!("PRAGMA {pragma}")).and_then(|r| {
            if r == ["ok"] {
                Ok("ok".into())
            } else {
                Err(format!("{} problem(s), first: {}", r.len(), r.first().cloned().unwrap_or_default()))
            }
        }),
    )];
    out.push((
        "foreign_key_check".into(),
        rows(&db, "PRAGMA foreign_key_check").and_then(|r| match r.first() {
            None => Ok("ok".into()),
            Some(first) => Err(format!("{} violation(s), first (table|rowid|parent|fk): {first}", r.len())),
        }),
    ));
    for a in assertions {
        out.push((format!("assertion {}", a.name), assertion(&db, a)));
    }
    out
}

/// Every row of `sql`, columns joined by `|`.
fn rows(db: &Connection, sql: &str) -> Result<Vec<String>, String> {
    let mut st = db.prepare(sql).map_err(|e| e.to_string())?;
    let n = st.column_count();
    let r = st
        .query_map([], |r| {
            Ok((0..n)
                .map(|i| crate::source::sqlite::restore::value_text(r.get_ref(i).ok()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .and_then(|r| r.collect());
    r.map_err(|e| e.to_string())
}

/// A single-value, read-only query whose value must be `a.expected`.
fn assertion(db: &Connection, a: &Assertion) -> Result<String, String> {
    let st = db.prepare(&a.sql).map_err(|e| format!("{}: {e}", a.sql))?;
    if !st.readonly() {
        return Err(format!("{} would write: an assertion must be a read-only query", a.sql));
    }
    if st.column_count() != 1 {
        return Err(format!("{} returns {} columns: an assertion returns one value", a.sql, st.column_count()));
    }
    drop(st);
    let got = rows(db, &a.sql)?;
    match got.as_slice() {
        [v] if *v == a.expected => Ok(format!("{v}, as expected")),
        [v] => Err(format!("returned {v}, expected {}", a.expected)),
        _ => Err(format!("returned {} rows: an assertion returns one value", got.len())),
    }
}

/// Reachable, not loading, last save and AOF write ok.
fn redis(url: &str, password: Option<&str>) -> Result<String, String> {
    use crate::source::redis::conn;
    let ep = conn::Endpoint::parse(url)?;
    let (mut c, facts) = conn::open(&ep, password, Duration::from_secs(10))?;
    let p = c.info("persistence")?;
    let f = |k: &str| conn::field(&p, k).unwrap_or_default();
    if f("loading") == "1" {
        return Err("the server is still loading its data".into());
    }
    if f("rdb_last_bgsave_status") != "ok" {
        return Err(format!("its last RDB save failed (rdb_last_bgsave_status:{})", f("rdb_last_bgsave_status")));
    }
    if f("aof_enabled") == "1" && (f("aof_last_write_status") != "ok" || f("aof_last_bgrewrite_status") != "ok") {
        return Err(format!(
            "its AOF is unhealthy (aof_last_write_status:{}, aof_last_bgrewrite_status:{})",
            f("aof_last_write_status"),
            f("aof_last_bgrewrite_status")
        ));
    }
    let keys: u64 = facts.keyspace.iter().map(|k| k.1).sum();
    Ok(format!("reachable, server {}, {keys} keys, last save ok", facts.server_version))
}

/// Present and readable.
fn files(path: &Path) -> Result<String, String> {
    let m = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if m.is_dir() {
        let n = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?.count();
        Ok(format!("a readable directory of {n} entries"))
    } else {
        std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(format!("a readable file of {} bytes", m.len()))
    }
}

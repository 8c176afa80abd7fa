//! `cairn drill`: a recovery rehearsal that never touches live data. The
//! chosen stack snapshot is restored into a scratch directory one
//! component at a time (each restore verified by its kind), the integrity
//! checks run on every restored copy, and each component's restore-and-
//! check time is held against its RTO, the whole against the stack's, and
//! the age of each component's newest snapshot against its RPO.
//!
//! Scenario `full` is the guide's scenario 2 (the whole stack lost);
//! `partial` its scenario 1 (rows lost from one database): only the
//! SQLite components are restored, and the report says how many rows per
//! table the restored copy holds beside the live database — what would
//! come back.

use super::file::{Component, StackFile};
use super::integrity::{check_component, Check, IntegrityOptions};
use super::restore::{restore, Mode, StackRestoreOptions};
use crate::error::Result;
use crate::format::id::Id;
use crate::format::snapshot::Snapshot;
use crate::repo::Repository;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    Partial,
    Full,
}

#[derive(Debug, Clone)]
pub struct DrillOptions {
    pub scenario: Scenario,
    /// Override every component's RTO (and the stack's).
    pub rto: Option<Duration>,
    /// Override every component's RPO.
    pub rpo: Option<Duration>,
    pub integrity: IntegrityOptions,
}

/// One component's part of the drill.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentResult {
    pub name: String,
    pub kind: &'static str,
    /// Age of its newest snapshot now, seconds.
    pub age_s: f64,
    pub rpo_s: Option<f64>,
    /// Restore (verified) plus checks, seconds.
    pub restore_s: f64,
    pub rto_s: Option<f64>,
    pub checks: Vec<Check>,
    /// Partial scenario: (table, rows restored, rows live).
    pub rows: Vec<(String, i64, i64)>,
    pub ok: bool,
    /// Why not, one line each.
    pub misses: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DrillReport {
    pub stack: String,
    pub snapshot: String,
    pub scenario: Scenario,
    pub components: Vec<ComponentResult>,
    pub total_s: f64,
    pub rto_s: f64,
    pub ok: bool,
    pub misses: Vec<String>,
}

/// Rehearse recovering `snap` (a snapshot of `stack`, id `id`) in `scratch`.
pub fn drill(
    repo: &Repository,
    stack: &StackFile,
    id: &Id,
    snap: &Snapshot,
    scratch: &Path,
    o: &DrillOptions,
) -> Result<DrillReport> {
    let st = snap.stack.as_ref().ok_or_else(|| {
        crate::Error::InvalidArgument("the snapshot is not a stack snapshot: drill a `backup --stack` snapshot".into())
    })?;
    let all = repo.list_snapshots()?;
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    let start = Instant::now();
    let mut out = Vec::new();
    for c in &st.components {
        let Some(comp) = stack.components.iter().find(|s| s.name == c.name) else { continue };
        if o.scenario == Scenario::Partial && comp.kind().name() != "sqlite" {
            continue;
        }
        // The newest snapshot of this stack holding the component.
        let newest = all
            .iter()
            .filter_map(|(_, s)| {
                s.stack
                    .as_ref()
                    .filter(|x| x.name == st.name)
                    .and_then(|x| x.components.iter().find(|y| y.name == c.name))
                    .map(|_| s.time_ns)
            })
            .max()
            .unwrap_or(snap.time_ns);
        out.push(one(repo, stack, comp, snap, scratch, (now - newest) as f64 / 1e9, o)?);
    }
    let total_s = start.elapsed().as_secs_f64();
    let rto_s = o.rto.unwrap_or(stack.rto).as_secs_f64();
    let mut misses: Vec<String> =
        out.iter().flat_map(|c| c.misses.iter().map(|m| format!("{}: {m}", c.name))).collect();
    if total_s > rto_s {
        misses.push(format!("the whole recovery took {total_s:.2}s, over its RTO of {rto_s:.0}s"));
    }
    if out.is_empty() {
        misses.push("the snapshot holds no component this drill restores".into());
    }
    Ok(DrillReport {
        stack: stack.name.clone(),
        snapshot: id.to_hex(),
        scenario: o.scenario,
        ok: misses.is_empty(),
        components: out,
        total_s,
        rto_s,
        misses,
    })
}

/// Restore, check and time one component.
fn one(
    repo: &Repository,
    stack: &StackFile,
    c: &Component,
    snap: &Snapshot,
    scratch: &Path,
    age_s: f64,
    o: &DrillOptions,
) -> Result<ComponentResult> {
    let t = Instant::now();
    let ro = StackRestoreOptions {
        only: vec![c.name.clone()],
        mode: Mode::TargetRoot(scratch.to_path_buf()),
        sources: Default::default(),
    };
    let (restored, mut misses) = match restore(repo, stack, snap, &ro) {
        Ok(mut r) => (r.pop(), vec![]),
        Err(e) => (None, vec![format!("the restore failed: {e}")]),
    };
    let mut checks = Vec::new();
    let mut rows = Vec::new();
    if let Some(r) = &restored {
        let at = r.path.to_string_lossy().into_owned();
        checks = match c.kind().name() {
            // A restored Redis component is a file: walk every key of it.
            "redis" => vec![rdb_check(c, &r.path)],
            _ => check_component(c, &at, &o.integrity),
        };
        if o.scenario == Scenario::Partial {
            rows = compare_rows(&r.path, Path::new(&c.spec.location));
        }
    }
    let restore_s = t.elapsed().as_secs_f64();
    misses.extend(checks.iter().filter(|k| !k.ok).map(|k| format!("check {} failed: {}", k.check, k.detail)));
    let rto = o.rto.or(if o.scenario == Scenario::Partial { c.rto_partial.or(c.rto) } else { c.rto });
    if let Some(rto) = rto.filter(|r| restore_s > r.as_secs_f64()) {
        misses.push(format!("restored and checked in {restore_s:.2}s, over its RTO of {:.0}s", rto.as_secs_f64()));
    }
    let rpo = o.rpo.or(c.rpo);
    if let Some(rpo) = rpo.filter(|r| age_s > r.as_secs_f64()) {
        misses.push(format!(
            "its newest snapshot is {} old, over its RPO of {}",
            crate::ops::select::human_duration(age_s as u64),
            crate::ops::select::human_duration(rpo.as_secs())
        ));
    }
    Ok(ComponentResult {
        name: c.name.clone(),
        kind: c.kind().name(),
        age_s,
        rpo_s: rpo.map(|r| r.as_secs_f64()),
        restore_s,
        rto_s: rto.map(|r| r.as_secs_f64()),
        checks,
        rows,
        ok: misses.is_empty(),
        misses,
    })
}

/// The restored dump walked key by key (what a server would load).
fn rdb_check(c: &Component, dump: &Path) -> Check {
    let r = std::fs::read(dump).map_err(|e| format!("{}: {e}", dump.display())).and_then(|b| {
        let v = crate::source::redis::rdb::check(&b)?;
        let e = crate::source::redis::entries::split(&b, v.version)?;
        Ok(format!("CRC-64 ok, {} keys walk, {} function libraries", e.keys.len(), e.functions.len()))
    });
    let (ok, detail) = match r {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    Check { component: c.name.clone(), kind: "redis", check: "rdb".into(), ok, detail }
}

/// Rows per table of the restored copy and of the live database.
fn compare_rows(restored: &Path, live: &Path) -> Vec<(String, i64, i64)> {
    let open = |p: &Path| crate::source::sqlite::open_untouched(p).ok();
    let (Some(r), l) = (open(restored), open(live)) else { return vec![] };
    let tables: Vec<String> = r
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |x| x.get(0))?.collect())
        .unwrap_or_default();
    let count = |db: &rusqlite::Connection, t: &str| -> i64 {
        db.query_row(&format!("SELECT count(*) FROM \"{}\"", t.replace('"', "\"\"")), [], |x| x.get(0)).unwrap_or(-1)
    };
    tables.iter().map(|t| (t.clone(), count(&r, t), l.as_ref().map(|l| count(l, t)).unwrap_or(-1))).collect()
}

impl DrillReport {
    /// The record `drill --history` lists.
    pub fn record(&self, id: &Id) -> crate::format::drill::DrillRecord {
        use crate::format::drill::{DrillComponent, DrillRecord};
        DrillRecord {
            version: 1,
            time_ns: jiff::Timestamp::now().as_nanosecond() as i64,
            hostname: crate::sys::hostname(),
            stack: self.stack.clone(),
            snapshot: *id,
            scenario: (self.scenario == Scenario::Partial) as u8,
            ok: self.ok,
            total_us: (self.total_s * 1e6) as u64,
            rto_s: self.rto_s as u64,
            components: self
                .components
                .iter()
                .map(|c| DrillComponent {
                    name: c.name.clone(),
                    restore_us: (c.restore_s * 1e6) as u64,
                    age_s: c.age_s as u64,
                    ok: c.ok,
                })
                .collect(),
            misses: self.misses.clone(),
        }
    }
}

//! `restore --stack`: the components of one stack snapshot, into a target
//! root (each under its name) or in place.
//!
//! In place, two phases keep the live data whole whatever fails:
//! 1. *stage*: every component is restored beside its live copy (a sibling
//!    `.NAME.cairn-staged-…`) by its kind, which verifies it before it
//!    appears there (page hashes, SQLite checks and the stack's assertions,
//!    Chroma checks, the RDB check, chunk hashes of every file). Any failure
//!    removes what was staged and returns: nothing live has been touched.
//! 2. *swap*: each live copy is renamed aside (`.NAME.cairn-previous-…`,
//!    with a database's `-wal`/`-shm`/`-journal`) and the staged one renamed
//!    into its place. A failed rename puts every swapped component back. Only
//!    after the last swap are the previous copies removed (kept with
//!    `keep_previous`).
//!
//! cairn does not manage the services: the result lists what the operator
//! does next (restart Redis on the restored dump, restart the services).

use super::file::StackFile;
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::Node;
use crate::repo::Repository;
use crate::source::{self, sibling, Report};
use std::fs;
use std::path::{Path, PathBuf};

/// Where the components go.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Each component under `ROOT/NAME` (a database as `ROOT/NAME/FILE`).
    TargetRoot(PathBuf),
    /// Over the live copies, verified first.
    InPlace { keep_previous: bool },
}

#[derive(Debug, Clone)]
pub struct StackRestoreOptions {
    /// Components to restore (all the snapshot holds when empty).
    pub only: Vec<String>,
    pub mode: Mode,
    /// Base options of the kinds (the stack's assertions are added).
    pub sources: source::RestoreOptions,
}

/// One restored component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Restored {
    pub name: String,
    pub kind: &'static str,
    /// Where it is now.
    pub path: PathBuf,
    /// In place with `keep_previous`: where the replaced copy is.
    pub previous: Option<PathBuf>,
    pub report: Option<serde_json::Value>,
    /// For people: the kind's line.
    #[serde(skip)]
    pub text: String,
    /// What the operator does next, if anything.
    pub next: Option<String>,
}

/// A component to restore: its node and where it goes.
struct Plan<'a> {
    name: String,
    kind: &'static dyn source::Source,
    node: Node,
    /// Final place (the live copy in place).
    path: PathBuf,
    /// Where it is staged (in place), and the directory to remove after.
    staged: PathBuf,
    scratch: Option<PathBuf>,
    component: Option<&'a super::Component>,
}

fn in_component(name: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| Error::Component { name: name.to_string(), source: Box::new(e) }
}

/// Restore the components of `snap` (a snapshot of `stack`).
pub fn restore(
    repo: &Repository,
    stack: &StackFile,
    snap: &Snapshot,
    o: &StackRestoreOptions,
) -> Result<Vec<Restored>> {
    let plans = plan(repo, stack, snap, o)?;
    let mut out = Vec::new();
    // Phase 1: every component restored and verified where it is staged.
    for (i, p) in plans.iter().enumerate() {
        match stage(repo, snap, p, &o.sources) {
            Ok(report) => out.push(restored(p, report)),
            Err(e) => {
                if matches!(o.mode, Mode::InPlace { .. }) {
                    plans[..=i].iter().for_each(discard);
                }
                return Err(in_component(&p.name)(e));
            }
        }
    }
    let Mode::InPlace { keep_previous } = o.mode else { return Ok(out) };
    // Phase 2: swap each in; on a failure, put back every one swapped.
    let mut swapped: Vec<(usize, Option<PathBuf>)> = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        match swap_in(p) {
            Ok(prev) => swapped.push((i, prev)),
            Err(e) => {
                for (j, prev) in swapped.iter().rev() {
                    put_back(&plans[*j], prev.as_deref());
                }
                plans.iter().for_each(discard);
                return Err(in_component(&p.name)(Error::TargetWrite { path: p.path.clone(), source: e }));
            }
        }
    }
    for ((i, prev), r) in swapped.into_iter().zip(out.iter_mut()) {
        let p = &plans[i];
        if let Some(s) = &p.scratch {
            let _ = fs::remove_dir_all(s);
        }
        match prev {
            Some(prev) if keep_previous => r.previous = Some(prev),
            Some(prev) => remove_any(&prev),
            None => {}
        }
        r.path = p.path.clone();
        sync_parent(&p.path);
    }
    Ok(out)
}

/// Each component's node in the snapshot and its places; everything is
/// checked before anything is written.
fn plan<'a>(
    repo: &Repository,
    stack: &'a StackFile,
    snap: &Snapshot,
    o: &StackRestoreOptions,
) -> Result<Vec<Plan<'a>>> {
    let Some(st) = &snap.stack else {
        return Err(Error::InvalidArgument("the snapshot is not a stack snapshot: restore it without --stack".into()));
    };
    for n in &o.only {
        if !st.components.iter().any(|c| &c.name == n) {
            let have: Vec<_> = st.components.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::InvalidArgument(format!(
                "--only {n}: the snapshot holds no such component (it holds {})",
                have.join(", ")
            )));
        }
    }
    let root = repo.load_tree(&snap.tree)?;
    let mut plans = Vec::new();
    for c in st.components.iter().filter(|c| o.only.is_empty() || o.only.contains(&c.name)) {
        let err = in_component(&c.name);
        let kind = source::by_kind(c.kind).ok_or_else(|| {
            err(Error::InvalidArgument(format!("kind {} is unknown to this cairn: upgrade it", c.kind.0)))
        })?;
        let node = root.iter().find(|n| n.name == c.name.as_bytes()).cloned().ok_or_else(|| {
            err(Error::InvalidArgument("the snapshot's tree has no entry of this name: run `cairn check`".into()))
        })?;
        let component = stack.components.iter().find(|s| s.name == c.name);
        let base = |p: &str| Path::new(p).file_name().map(PathBuf::from).unwrap_or_else(|| "data".into());
        let (path, staged, scratch) = match (&o.mode, kind.name()) {
            (Mode::TargetRoot(r), "sqlite") => (r.join(&c.name).join(base(&c.location)), PathBuf::new(), None),
            (Mode::TargetRoot(r), "redis") => (r.join(&c.name).join("dump.rdb"), PathBuf::new(), None),
            (Mode::TargetRoot(r), _) => (r.join(&c.name), PathBuf::new(), None),
            (Mode::InPlace { .. }, k) => {
                let Some(comp) = component else {
                    return Err(err(Error::InvalidArgument(
                        "the stack file no longer describes it, so there is no live copy: use --target-root".into(),
                    )));
                };
                let live = match k {
                    "redis" => comp.dir.as_ref().map(|d| d.join("dump.rdb")).ok_or_else(|| {
                        err(Error::InvalidArgument(
                            "--in-place needs dir = the server's data directory in the stack file (or use --target-root)"
                                .into(),
                        ))
                    })?,
                    _ => PathBuf::from(comp.spec.location.clone()),
                };
                match k {
                    "sqlite" | "chroma" => (live.clone(), sibling(&live, "cairn-staged"), None),
                    // Restored into a scratch directory beside it: a directory
                    // holding the node under its name (files), or dump.rdb.
                    _ => {
                        let s = sibling(&live, "cairn-staged");
                        let inner = if k == "redis" { s.join("dump.rdb") } else { s.join(&c.name) };
                        (live.clone(), inner, Some(s))
                    }
                }
            }
        };
        if let Mode::TargetRoot(r) = &o.mode {
            let top = r.join(&c.name);
            if fs::symlink_metadata(&top).is_ok() {
                return Err(err(Error::TargetNotEmpty(top)));
            }
        }
        plans.push(Plan { name: c.name.clone(), kind, node, path, staged, scratch, component });
    }
    Ok(plans)
}

/// Restore one component where it is staged (its final place in a target root).
fn stage(repo: &Repository, snap: &Snapshot, p: &Plan, base: &source::RestoreOptions) -> Result<Option<Report>> {
    let to = if p.staged.as_os_str().is_empty() { &p.path } else { &p.staged };
    let mut o = source::RestoreOptions { overwrite: false, ..base.clone() };
    if let Some(c) = p.component {
        o.sqlite.assertions.extend(c.assertions.iter().cloned());
    }
    if p.kind.node_kind().is_some() {
        let dir = if p.kind.name() == "redis" { to.parent().expect("dump.rdb has a parent") } else { to.as_path() };
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::TargetWrite { path: parent.to_path_buf(), source: e })?;
        }
        return p.kind.restore(repo, &p.node, dir, &o).map(Some);
    }
    // Files: restored under a directory as the node's name; only that name
    // is written there, and `plan` checked it is free (a target root may
    // already hold other components).
    let parent = to.parent().expect("a component path has a parent").to_path_buf();
    let opts = crate::ops::restore::RestoreOptions {
        target: parent,
        include: vec![p.name.clone()],
        exclude: vec![],
        overwrite: true,
        sources: o,
    };
    crate::ops::restore::restore(repo, snap, &opts)?;
    Ok(None)
}

fn restored(p: &Plan, report: Option<Report>) -> Restored {
    let shown = if p.staged.as_os_str().is_empty() { p.path.clone() } else { p.staged.clone() };
    let text = report.as_ref().map(|r| r.text.clone()).unwrap_or_else(|| format!("files {}", shown.display()));
    let next = match p.kind.name() {
        "redis" => Some(format!(
            "start redis-server with `--dir {} --dbfilename dump.rdb --appendonly no` so it loads the dump (with appendonly yes it would start empty); then, if you use AOF, CONFIG SET appendonly yes and wait for the rewrite",
            p.path.parent().unwrap_or(Path::new(".")).display()
        )),
        "sqlite" | "chroma" => Some(format!("restart the services that use {}", p.path.display())),
        _ => None,
    };
    Restored {
        name: p.name.clone(),
        kind: p.kind.name(),
        path: shown,
        previous: None,
        report: report.map(|r| r.json),
        text,
        next,
    }
}

/// A database's companions, which belong to the file beside them.
fn companions(p: &Path, kind: &str) -> Vec<(PathBuf, &'static str)> {
    if kind != "sqlite" {
        return vec![];
    }
    ["-wal", "-shm", "-journal"]
        .into_iter()
        .map(|s| (PathBuf::from(format!("{}{s}", p.display())), s))
        .filter(|(f, _)| f.exists())
        .collect()
}

/// Move the live copy aside (if there is one) and the staged one in.
fn swap_in(p: &Plan) -> std::io::Result<Option<PathBuf>> {
    crate::failpoint::hit("stack-swap");
    let prev = if fs::symlink_metadata(&p.path).is_ok() {
        let prev = sibling(&p.path, "cairn-previous");
        for (f, s) in companions(&p.path, p.kind.name()) {
            fs::rename(&f, format!("{}{s}", prev.display()))?;
        }
        fs::rename(&p.path, &prev)?;
        Some(prev)
    } else {
        None
    };
    if let Err(e) = fs::rename(&p.staged, &p.path) {
        if let Some(prev) = &prev {
            put_back(p, Some(prev));
        }
        return Err(e);
    }
    Ok(prev)
}

/// Undo `swap_in`: the swapped-in copy goes back to staged, the previous one back.
fn put_back(p: &Plan, prev: Option<&Path>) {
    if fs::symlink_metadata(&p.path).is_ok() && fs::symlink_metadata(&p.staged).is_err() {
        let _ = fs::rename(&p.path, &p.staged);
    }
    if let Some(prev) = prev {
        let _ = fs::rename(prev, &p.path);
        for (f, s) in companions(prev, p.kind.name()) {
            let _ = fs::rename(&f, format!("{}{s}", p.path.display()));
        }
    }
}

/// Remove what was staged for `p` (in place only).
fn discard(p: &Plan) {
    if !p.staged.as_os_str().is_empty() {
        remove_any(&p.staged);
    }
    if let Some(s) = &p.scratch {
        let _ = fs::remove_dir_all(s);
    }
}

fn remove_any(p: &Path) {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = fs::remove_file(p);
            for (f, _) in companions(p, "sqlite") {
                let _ = fs::remove_file(f);
            }
        }
        Err(_) => {}
    }
}

fn sync_parent(p: &Path) {
    if let Some(d) = p.parent() {
        if let Ok(f) = fs::File::open(d) {
            let _ = f.sync_all();
        }
    }
}

//! `backup --stack`: one snapshot of every component (or those `--only`
//! names), each captured by its kind's consistent method under its
//! component name, with each one's capture time, method, sizes and hold
//! recorded in the snapshot (format-spec/objects.md, "Stack").
//!
//! Order: Redis, then SQLite, then Chroma, then files. Each of the first
//! three fixes its moment when its capture begins (the fork for `SYNC`, the
//! read transaction), so the window between the first moment and the last
//! is the time of the captures before the last; taking the quick,
//! often-changing stores first (a Redis RDB of 100,000 keys arrives in about
//! 0.2 s; the job queue and the projects table are what must agree) keeps
//! it short, and the long, append-mostly ones (embeddings, generated files)
//! come last. Within a kind, the file's order.
//!
//! Hooks run around each capture (stack::hooks); a failing `before` fails
//! its component, `after` always runs. Any failure fails the whole backup
//! before the commit, so no partial stack snapshot is ever recorded.

use super::file::{Component, StackFile};
use super::hooks::{self, HookEnv};
use crate::error::{Error, Result};
use crate::ops::backup::{backup_observed, BackupOptions, BackupResult, Observer, StackOptions};
use crate::source::CaptureOptions;

/// What the caller adds to the stack file.
#[derive(Debug, Clone, Default)]
pub struct StackBackupOptions {
    /// Components to capture (all when empty).
    pub only: Vec<String>,
    /// Options every component starts from (SQLite method and checks, ...);
    /// the stack file's per-component keys replace theirs.
    pub capture: CaptureOptions,
    pub tags: Vec<String>,
    pub time: Option<jiff::Timestamp>,
    pub host: Option<String>,
}

/// Capture rank of a kind (lower first; see the module comment).
fn rank(kind: &str) -> u8 {
    match kind {
        "redis" => 0,
        "sqlite" => 1,
        "chroma" => 2,
        _ => 3,
    }
}

/// The components of `only`, in capture order.
pub fn order<'a>(stack: &'a StackFile, only: &[String]) -> Result<Vec<&'a Component>> {
    let mut cs = stack.select(only)?;
    cs.sort_by_key(|c| rank(c.kind().name()));
    Ok(cs)
}

/// The capture options of one component.
fn options(c: &Component, base: &CaptureOptions) -> Result<CaptureOptions> {
    let mut o = base.clone();
    o.exclude = crate::source::files::exclude::Exclude::new(&c.exclude)
        .map_err(|e| Error::Component { name: c.name.clone(), source: Box::new(Error::InvalidArgument(e)) })?;
    if let Some(f) = &c.password_file {
        let text = std::fs::read_to_string(f).map_err(|e| Error::Component {
            name: c.name.clone(),
            source: Box::new(Error::InvalidArgument(format!("cannot read password_file {}: {e}", f.display()))),
        })?;
        o.redis.password = Some(text.trim_end_matches(['\r', '\n']).to_string());
    }
    if let Some(t) = c.timeout {
        o.redis.timeout = t;
    }
    if let Some(m) = &c.redis_method {
        o.redis.method = m.clone();
    }
    Ok(o)
}

/// The hooks of the components, as a backup observer.
struct Hooks<'a> {
    stack: &'a str,
    components: &'a [&'a Component],
}

impl Hooks<'_> {
    fn run(&self, i: usize, hook: &str, command: Option<&String>, result: Option<bool>) -> Result<()> {
        let c = self.components[i];
        let Some(command) = command else { return Ok(()) };
        let env = HookEnv { stack: self.stack, component: &c.name, hook, result };
        hooks::run(command, &env, c.hook_timeout).map_err(|why| Error::Component {
            name: c.name.clone(),
            source: Box::new(Error::InvalidArgument(format!("{hook} hook {why}; nothing was recorded"))),
        })
    }
}

impl Observer for Hooks<'_> {
    fn before(&mut self, i: usize) -> Result<()> {
        self.run(i, "before", self.components[i].before.as_ref(), None)
    }
    fn after(&mut self, i: usize, ok: bool) -> Result<()> {
        self.run(i, "after", self.components[i].after.as_ref(), Some(ok))
    }
}

/// The first repository format that may hold stack snapshots (version-2
/// snapshots, which older cairn cannot decode).
pub const SINCE_FORMAT: u32 = 6;

/// Take one stack snapshot.
pub fn backup(repo: &crate::Repository, stack: &StackFile, o: &StackBackupOptions) -> Result<BackupResult> {
    if repo.config.version < SINCE_FORMAT {
        return Err(Error::InvalidArgument(format!(
            "the repository is format {}, which cannot hold stack snapshots (format {SINCE_FORMAT} and later): back up into a repository created by this cairn",
            repo.config.version
        )));
    }
    let components = order(stack, &o.only)?;
    stack.check_sources(&components)?;
    let named = components.iter().map(|c| Ok((c.name.clone(), options(c, &o.capture)?))).collect::<Result<_>>()?;
    let opts = BackupOptions {
        sources: components.iter().map(|c| c.spec.clone()).collect(),
        capture: o.capture.clone(),
        tags: o.tags.clone(),
        time: o.time,
        host: o.host.clone(),
        stack: Some(StackOptions { name: stack.name.clone(), components: named }),
        parent: None,
    };
    backup_observed(repo, &opts, &mut Hooks { stack: &stack.name, components: &components })
}

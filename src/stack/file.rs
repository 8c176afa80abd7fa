//! The stack file (`cairn.toml`): the repository, the components of the
//! application's data stack, its retention policy, recovery targets, hooks
//! and a notification webhook. Parsed strictly (an unknown key is an error
//! naming its line) and checked whole before any work starts: keys, kinds,
//! names, durations, globs. `check_sources` adds that every path exists and
//! every URL parses (backup runs it; a restore onto a new machine, where
//! the live paths are gone, does not). examples/cairn.toml is the commented
//! reference; README "Stack files" lists the keys.

use crate::error::{Error, Result};
use crate::source::{self, Source, SourceSpec};
use jiff::SignedDuration;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default time a hook may run before it is killed.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    repository: Option<String>,
    name: Option<String>,
    hook_timeout: Option<String>,
    webhook: Option<String>,
    retention: Option<RawRetention>,
    targets: Option<RawTargets>,
    #[serde(default)]
    component: Vec<RawComponent>,
    #[serde(default)]
    assertions: std::collections::BTreeMap<String, RawNamed>,
}

/// `[assertions]`: `NAME = { sql = "...", expect = 0, component = "db" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    sql: String,
    expect: toml::Value,
    component: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    last: Option<u32>,
    hourly: Option<u32>,
    daily: Option<u32>,
    weekly: Option<u32>,
    monthly: Option<u32>,
    yearly: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    rto: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    name: String,
    kind: String,
    path: Option<String>,
    url: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    before: Option<String>,
    after: Option<String>,
    hook_timeout: Option<String>,
    rto: Option<String>,
    rto_partial: Option<String>,
    rpo: Option<String>,
    #[serde(default)]
    assert: Vec<RawAssert>,
    password_file: Option<String>,
    timeout: Option<String>,
    dir: Option<String>,
    method: Option<String>,
    dump: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssert {
    name: String,
    sql: String,
    expected: String,
}

/// A parsed, checked stack file.
#[derive(Debug, Clone)]
pub struct StackFile {
    /// The file it came from.
    pub file: PathBuf,
    /// The series its snapshots form (`name`, else the file's stem).
    pub name: String,
    pub repository: Option<PathBuf>,
    pub webhook: Option<String>,
    pub retention: crate::retention::Policy,
    /// Whole-system recovery time objective (the guide's 60 min).
    pub rto: Duration,
    pub components: Vec<Component>,
}

/// One component: a source of one kind with its options.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub spec: SourceSpec,
    pub exclude: Vec<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub hook_timeout: Duration,
    /// Recovery time objective of a full restore of this component.
    pub rto: Option<Duration>,
    /// Of a partial one (SQLite: a table or a row range).
    pub rto_partial: Option<Duration>,
    /// Recovery point objective: the newest snapshot may be at most this old.
    pub rpo: Option<Duration>,
    pub assertions: Vec<crate::source::sqlite::Assertion>,
    /// Redis: a file holding the password.
    pub password_file: Option<PathBuf>,
    /// Redis: the bound on the whole transfer.
    pub timeout: Option<Duration>,
    /// Redis: the server's data directory, where `--in-place` swaps `dump.rdb`.
    pub dir: Option<PathBuf>,
    /// Redis: `method = "bgsave"` (with `dump`, the dump file's path).
    pub redis_method: Option<crate::source::redis::Method>,
}

impl Component {
    pub fn kind(&self) -> &'static dyn Source {
        self.spec.source
    }
}

/// The guide's targets by kind: (full RTO, partial RTO, RPO).
fn guide_targets(kind: &str) -> (Option<Duration>, Option<Duration>, Option<Duration>) {
    let m = |n: u64| Some(Duration::from_secs(n * 60));
    match kind {
        "sqlite" => (m(15), m(5), m(6 * 60)),
        "chroma" => (m(30), None, m(24 * 60)),
        _ => (None, None, None),
    }
}

/// Read and check the stack file at `path`.
pub fn load(path: &Path) -> Result<StackFile> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::InvalidArgument(format!("stack file {}: cannot read it ({e}): give --stack FILE", path.display()))
    })?;
    parse(path, &text)
}

/// Parse and check `text` as the stack file `path` (relative paths in it are
/// relative to the file's directory).
pub fn parse(path: &Path, text: &str) -> Result<StackFile> {
    let at = |what: String| Error::InvalidArgument(format!("stack file {}: {what}", path.display()));
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().replace('\n', " ");
        at(match line {
            Some(l) => format!("line {l}: {msg}"),
            None => msg,
        })
    })?;
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let rel = |p: &str| base.join(p);
    let default_timeout =
        duration(raw.hook_timeout.as_deref(), "hook_timeout").map_err(at)?.unwrap_or(DEFAULT_HOOK_TIMEOUT);
    if raw.component.is_empty() {
        return Err(at("no [[component]]: describe at least one (see examples/cairn.toml)".into()));
    }
    let mut components: Vec<Component> = Vec::new();
    for c in raw.component {
        let name = c.name.clone();
        let bad = |what: String| at(format!("component {name:?}: {what}"));
        if name.is_empty()
            || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            || name.starts_with('.')
        {
            return Err(bad(
                "a name is letters, digits, '-', '_' or '.' (not first), so it can name a directory".into()
            ));
        }
        if components.iter().any(|o| o.name == name) {
            return Err(bad("two components have this name: give each its own".into()));
        }
        let Some(kind) = source::KINDS.iter().copied().find(|k| k.name() == c.kind) else {
            let names: Vec<_> = source::KINDS.iter().map(|k| k.name()).collect();
            return Err(bad(format!("kind {:?} is unknown: give one of {}", c.kind, names.join(", "))));
        };
        let location = match (kind.name(), &c.path, &c.url) {
            ("redis", None, Some(u)) => u.clone(),
            ("redis", _, _) => {
                return Err(bad("a redis component takes url = \"redis://HOST:PORT[/DB]\" and no path".into()))
            }
            (_, Some(p), None) => rel(p).display().to_string(),
            (k, _, _) => return Err(bad(format!("a {k} component takes path = \"...\" and no url"))),
        };
        if !c.exclude.is_empty() && kind.name() != "files" {
            return Err(bad("exclude applies to files components only".into()));
        }
        if !c.assert.is_empty() && kind.name() != "sqlite" {
            return Err(bad("assert applies to sqlite components only".into()));
        }
        let redis_only = [c.password_file.is_some(), c.timeout.is_some(), c.dir.is_some(), c.method.is_some()];
        if redis_only.iter().any(|b| *b) && kind.name() != "redis" {
            return Err(bad("password_file, timeout, dir, method and dump apply to redis components only".into()));
        }
        let redis_method = match (c.method.as_deref(), &c.dump) {
            (None, None) => None,
            (Some("sync"), None) => Some(crate::source::redis::Method::Sync),
            (Some("bgsave"), d) => Some(crate::source::redis::Method::Bgsave { dump: d.as_deref().map(rel) }),
            (Some("sync") | None, Some(_)) => return Err(bad("dump applies to method = \"bgsave\" only".into())),
            (Some(m), _) => {
                return Err(bad(format!("method {m:?} is unknown: give \"sync\" (the default) or \"bgsave\"")))
            }
        };
        let spec = SourceSpec { source: kind, location: location.clone().into() };
        crate::source::files::exclude::Exclude::new(&c.exclude).map_err(bad)?;
        let d = |v: &Option<String>, key: &str| duration(v.as_deref(), key).map_err(bad);
        let (rto, rto_partial, rpo) = guide_targets(kind.name());
        let component = Component {
            name: name.clone(),
            spec,
            exclude: c.exclude.clone(),
            before: c.before.clone(),
            after: c.after.clone(),
            hook_timeout: d(&c.hook_timeout, "hook_timeout")?.unwrap_or(default_timeout),
            rto: d(&c.rto, "rto")?.or(rto),
            rto_partial: d(&c.rto_partial, "rto_partial")?.or(rto_partial),
            rpo: d(&c.rpo, "rpo")?.or(rpo),
            assertions: c
                .assert
                .iter()
                .map(|a| crate::source::sqlite::Assertion {
                    name: a.name.clone(),
                    sql: a.sql.clone(),
                    expected: a.expected.clone(),
                })
                .collect(),
            password_file: c.password_file.as_deref().map(rel),
            timeout: d(&c.timeout, "timeout")?,
            dir: c.dir.as_deref().map(rel),
            redis_method,
        };
        components.push(component);
    }
    for (name, a) in &raw.assertions {
        let bad = |what: String| at(format!("[assertions] {name}: {what}"));
        let dbs: Vec<usize> = (0..components.len()).filter(|i| components[*i].kind().name() == "sqlite").collect();
        let i = match &a.component {
            Some(c) => components
                .iter()
                .position(|x| &x.name == c)
                .filter(|i| dbs.contains(i))
                .ok_or_else(|| bad(format!("component {c:?} is not a sqlite component of this stack")))?,
            None if dbs.len() == 1 => dbs[0],
            None => {
                return Err(bad("the stack has no or several databases: say which with component = \"NAME\"".into()))
            }
        };
        let expected = match &a.expect {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => (*b as u8).to_string(),
            other => return Err(bad(format!("expect = {other} is not a single value"))),
        };
        let sql = a.sql.clone();
        components[i].assertions.push(crate::source::sqlite::Assertion { name: name.clone(), sql, expected });
    }
    let retention = match raw.retention {
        None => crate::retention::Policy::guide(),
        Some(r) => crate::retention::Policy {
            last: r.last.unwrap_or(0),
            hourly: r.hourly.unwrap_or(0),
            daily: r.daily.unwrap_or(0),
            weekly: r.weekly.unwrap_or(0),
            monthly: r.monthly.unwrap_or(0),
            yearly: r.yearly.unwrap_or(0),
            ..Default::default()
        },
    };
    retention.validate().map_err(|e| at(format!("[retention]: {e}")))?;
    if retention.is_empty() {
        return Err(at(
            "[retention] keeps nothing: give at least one count, or leave the table out for the guide's".into()
        ));
    }
    if let Some(w) = &raw.webhook {
        if !(w.starts_with("http://") || w.starts_with("https://")) {
            return Err(at(format!("webhook {w:?} is not an http:// or https:// URL")));
        }
    }
    let rto = duration(raw.targets.and_then(|t| t.rto).as_deref(), "targets.rto").map_err(at)?;
    let name = match raw.name {
        Some(n) if !n.is_empty() => n,
        _ => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "stack".into()),
    };
    Ok(StackFile {
        file: path.to_path_buf(),
        name,
        // An object store location is not a path beside the stack file.
        repository: raw.repository.as_deref().map(|r| match r.starts_with("s3:") {
            true => PathBuf::from(r),
            false => rel(r),
        }),
        webhook: raw.webhook,
        retention,
        rto: rto.unwrap_or(Duration::from_secs(3600)),
        components,
    })
}

/// `"15m"`, `"6h"`, `"90s"`, `"1h 30m"` (or ISO 8601 `PT15M`) as a duration.
pub fn duration(v: Option<&str>, key: &str) -> std::result::Result<Option<Duration>, String> {
    let Some(v) = v else { return Ok(None) };
    let d: SignedDuration =
        v.parse().map_err(|e| format!("{key} = {v:?} is not a duration like \"90s\", \"15m\" or \"6h\": {e}"))?;
    if d.is_negative() || d.is_zero() {
        return Err(format!("{key} = {v:?} must be longer than zero"));
    }
    Ok(Some(d.unsigned_abs()))
}

impl StackFile {
    /// Where notifications go: the file's `webhook`, else `CAIRN_WEBHOOK_URL`.
    pub fn webhook_url(&self) -> Option<String> {
        self.webhook.clone().or_else(|| std::env::var("CAIRN_WEBHOOK_URL").ok().filter(|u| !u.is_empty()))
    }

    /// Check that every component in `components` can be found (its path
    /// exists, its URL parses): `backup` does so before any work starts.
    /// Loading alone does not, so a restore onto a new machine, where the
    /// live paths are gone, can read the file.
    pub fn check_sources(&self, components: &[&Component]) -> Result<()> {
        for c in components {
            let bad = |e: String| {
                Error::InvalidArgument(format!("stack file {}: component {:?}: {e}", self.file.display(), c.name))
            };
            c.kind().resolve(&c.spec.location).map_err(|e| bad(e.to_string()))?;
            if let Some(f) = &c.password_file {
                std::fs::metadata(f).map_err(|e| bad(format!("password_file {}: {e}", f.display())))?;
            }
            if let Some(dir) = c.dir.as_ref().filter(|d| !d.is_dir()) {
                return Err(bad(format!("dir {} is not a directory", dir.display())));
            }
        }
        Ok(())
    }

    /// The components `only` names (all when empty), in file order; an
    /// unknown name is an error listing the known ones.
    pub fn select(&self, only: &[String]) -> Result<Vec<&Component>> {
        for n in only {
            if !self.components.iter().any(|c| &c.name == n) {
                let names: Vec<_> = self.components.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::InvalidArgument(format!(
                    "--only {n}: the stack has no such component (it has {})",
                    names.join(", ")
                )));
            }
        }
        Ok(self.components.iter().filter(|c| only.is_empty() || only.contains(&c.name)).collect())
    }
}

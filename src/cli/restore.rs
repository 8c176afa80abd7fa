//! `cairn restore`

use super::{human, print_json};
use anyhow::Result;
use cairn::ops::restore::{restore, restore_one, RestoreOptions};
use cairn::source::sqlite::Assertion;
use cairn::Repository;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn restore latest --target /tmp/restored\n  cairn restore 3f2a9c1e --include 'scripts/**' --exclude '*.tmp' --target /tmp/r\n  cairn restore latest --sqlite-target /srv/app.db --overwrite\n  cairn restore --stack --at '2h ago'"
)]
pub struct Args {
    /// Snapshot: `latest`, a full id or a unique id prefix (omit it with --at).
    snapshot: Option<String>,
    #[command(flatten)]
    at: super::select::At,
    /// Directory to restore into (must be empty unless --overwrite); a
    /// SQLite database is written there under its original file name.
    #[arg(long, required_unless_present_any = ["sqlite_target", "chroma_target", "stack", "redis_target"], conflicts_with_all = ["sqlite_target", "chroma_target", "stack", "redis_target"])]
    target: Option<PathBuf>,
    /// Load the snapshot's Redis RDB into this running server key by key
    /// (RESTORE … ABSTTL); a server holding keys needs --overwrite (keys
    /// are then replaced). Its password: CAIRN_REDIS_PASSWORD or
    /// --redis-password-file.
    #[arg(long, value_name = "URL", conflicts_with_all = ["sqlite_target", "chroma_target", "stack"])]
    redis_target: Option<String>,
    /// With --redis-target: read the server's password from this file.
    #[arg(long, value_name = "FILE", requires = "redis_target")]
    redis_password_file: Option<PathBuf>,
    /// Restore a stack snapshot of the stack a stack file describes
    /// (./cairn.toml when no FILE is given): the latest, or SNAPSHOT, or --at.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "cairn.toml", conflicts_with_all = ["sqlite_target", "chroma_target", "include", "exclude"])]
    pub stack: Option<PathBuf>,
    /// With --stack: only this component (repeatable).
    #[arg(long, value_name = "NAME", requires = "stack")]
    only: Vec<String>,
    /// With --stack: restore each component under DIR/NAME.
    #[arg(long, value_name = "DIR", requires = "stack")]
    target_root: Option<PathBuf>,
    /// With --stack: restore every component beside its live copy, verify
    /// all, and only then swap them in (nothing live changes if any fails).
    #[arg(long, requires = "stack", conflicts_with = "target_root")]
    in_place: bool,
    /// With --in-place: keep the replaced copies beside the live ones.
    #[arg(long, requires = "in_place")]
    keep_previous: bool,
    /// Write the snapshot's SQLite database to this path, verified before it
    /// appears there. A new path is the zero-downtime mode; an existing file
    /// needs --overwrite (fast mode).
    #[arg(long, conflicts_with = "chroma_target")]
    sqlite_target: Option<PathBuf>,
    /// Write the snapshot's Chroma directory here: built beside it,
    /// verified, then swapped in atomically (an existing directory needs
    /// --overwrite; it is removed unless --keep-rollback).
    #[arg(long)]
    chroma_target: Option<PathBuf>,
    /// Restore only paths matching this glob (repeatable); `*` stays in one
    /// path component, `**` crosses them; a matching directory brings its contents.
    #[arg(long)]
    include: Vec<String>,
    /// Leave out entries matching this glob (repeatable): without `/` a
    /// name at any depth (`*.tmp`), with `/` a path from the snapshot's
    /// root (`data/cache/**`); an excluded directory goes whole.
    #[arg(long, short = 'e', value_name = "GLOB")]
    exclude: Vec<String>,
    /// Allow a non-empty target; files in the way are replaced. For a
    /// database: replace the live file (fast mode; the old file is put back
    /// if any check fails).
    #[arg(long)]
    overwrite: bool,
    /// Fast mode: keep the replaced database as a rollback copy beside it.
    #[arg(long)]
    keep_rollback: bool,
    /// After a database is verified and in place, repoint this symlink to it
    /// atomically (zero-downtime mode).
    #[arg(long)]
    switch_symlink: Option<PathBuf>,
    /// Check on the restored database before it is put in place:
    /// NAME=SQL=EXPECTED (first column of the first row, as text; repeatable).
    #[arg(long = "assert", value_name = "NAME=SQL=EXPECTED")]
    assertions: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// `stack` is the loaded stack file when `--stack` was given.
    pub fn run(self, repo: &Repository, stack: Option<&cairn::stack::StackFile>) -> Result<i32> {
        let assertions: Vec<Assertion> = self
            .assertions
            .iter()
            .map(|a| a.parse().map_err(|e| anyhow::anyhow!("--assert: {e}")))
            .collect::<Result<_, _>>()?;
        if let Some(stack) = stack {
            let mut q = self.at.query(self.snapshot.clone())?;
            q.stack = Some((stack.name.clone(), self.only.clone()));
            let sel = cairn::ops::select::select(repo, &q)?;
            if let Some(n) = &sel.note {
                eprintln!("{n}");
            }
            let mode = match (&self.target_root, self.in_place) {
                (Some(r), _) => cairn::stack::restore::Mode::TargetRoot(r.clone()),
                (None, true) => cairn::stack::restore::Mode::InPlace { keep_previous: self.keep_previous },
                (None, false) => anyhow::bail!(
                    "restore --stack needs --target-root DIR (each component under DIR/NAME) or --in-place"
                ),
            };
            let sources = cairn::source::RestoreOptions {
                sqlite: cairn::source::sqlite::RestoreOptions { assertions, ..Default::default() },
                ..Default::default()
            };
            let o = cairn::stack::restore::StackRestoreOptions { only: self.only, mode, sources };
            return super::stack::restore(repo, stack, &sel, &o, self.json);
        }
        let sel = self.at.select(repo, self.snapshot.clone())?;
        let (id, snap) = (sel.id, sel.snapshot);
        let sqlite = cairn::source::sqlite::RestoreOptions {
            keep_rollback: self.keep_rollback,
            switch_symlink: self.switch_symlink.clone(),
            assertions,
            skip_foreign_key_check: false,
        };
        let chroma = cairn::source::chroma::RestoreOptions { keep_rollback: self.keep_rollback };
        let start = std::time::Instant::now();
        let redis = match &self.redis_target {
            Some(url) => {
                let o = super::backup::redis_options(self.redis_password_file.as_deref(), 120.0)?;
                let load = cairn::source::redis::load::LoadOptions {
                    url: url.clone(),
                    password: o.password,
                    timeout: o.timeout,
                };
                cairn::source::redis::RestoreOptions { load_into: Some(load) }
            }
            None => Default::default(),
        };
        let sources = cairn::source::RestoreOptions { overwrite: self.overwrite, sqlite, chroma, redis };
        if self.redis_target.is_some() {
            let r = restore_one(repo, &snap, &cairn::source::redis::Redis, std::path::Path::new(""), &sources)?;
            if self.json {
                print_json(&serde_json::json!({"snapshot_id": id.to_hex(), "selected": sel.note, "cache": r.json}));
            } else {
                println!("{} in {:.2}s", r.text, start.elapsed().as_secs_f64());
            }
            return Ok(0);
        }
        if let Some(path) = &self.chroma_target {
            let r = restore_one(repo, &snap, &cairn::source::chroma::Chroma, path, &sources)?;
            if self.json {
                print_json(
                    &serde_json::json!({"snapshot_id": id.to_hex(), "selected": sel.note, "vector_store": r.json}),
                );
            } else {
                println!("{} in {:.2}s", r.text, start.elapsed().as_secs_f64());
            }
            return Ok(0);
        }
        if let Some(path) = &self.sqlite_target {
            let r = restore_one(repo, &snap, &cairn::source::sqlite::Sqlite, path, &sources)?;
            if self.json {
                print_json(&serde_json::json!({"snapshot_id": id.to_hex(), "selected": sel.note, "database": r.json}));
            } else {
                println!("{} in {:.2}s", r.text, start.elapsed().as_secs_f64());
            }
            return Ok(0);
        }
        let target = self.target.clone().expect("clap requires --target or --sqlite-target");
        let opts = RestoreOptions {
            target: target.clone(),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            overwrite: self.overwrite,
            sources,
        };
        let r = restore(repo, &snap, &opts)?;
        let s = &r.stats;
        if self.json {
            let mut out = serde_json::json!({"snapshot_id": id.to_hex(), "selected": sel.note, "target": target,
                "stats": s});
            out.as_object_mut().expect("an object").extend(cairn::source::report_groups(r.reports.iter()));
            print_json(&out);
        } else {
            println!(
                "restored snapshot {} to {}: {} files ({}), {} dirs, {} symlinks in {:.2}s",
                id.short(),
                target.display(),
                s.files,
                human(s.bytes),
                s.dirs,
                s.symlinks,
                s.seconds
            );
            for p in &r.reports {
                println!("{}", p.text);
            }
        }
        Ok(0)
    }
}

//! `cairn restore`

use super::{human, print_json};
use anyhow::Result;
use cairn::restore::{restore, RestoreOptions};
use cairn::sqlite::restore::{restore_db, DbRestoreOptions};
use cairn::sqlite::Assertion;
use cairn::tree::NodeKind;
use cairn::Repository;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Snapshot: `latest`, a full id or a unique id prefix (omit it with --at).
    snapshot: Option<String>,
    #[command(flatten)]
    at: super::select::At,
    /// Directory to restore into (must be empty unless --overwrite); a
    /// SQLite database is written there under its original file name.
    #[arg(long, required_unless_present = "sqlite_target", conflicts_with = "sqlite_target")]
    target: Option<PathBuf>,
    /// Write the snapshot's SQLite database to this path, verified before it
    /// appears there. A new path is the zero-downtime mode; an existing file
    /// needs --overwrite (fast mode).
    #[arg(long)]
    sqlite_target: Option<PathBuf>,
    /// Restore only paths matching this glob (repeatable); `*` stays in one
    /// path component, `**` crosses them; a matching directory brings its contents.
    #[arg(long)]
    include: Vec<String>,
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
    json: bool,
}

impl Args {
    pub fn run(self, repo: &Repository) -> Result<i32> {
        let assertions: Vec<Assertion> = self.assertions.iter().map(|a| a.parse()).collect::<Result<_, _>>()?;
        let sel = self.at.select(repo, self.snapshot.clone())?;
        let (id, snap) = (sel.id, sel.snapshot);
        let db_opts = |target: PathBuf| DbRestoreOptions {
            target,
            overwrite: self.overwrite,
            keep_rollback: self.keep_rollback,
            switch_symlink: self.switch_symlink.clone(),
            assertions: assertions.clone(),
        };
        let start = std::time::Instant::now();
        let databases: Vec<_> =
            repo.load_tree(&snap.tree)?.into_iter().filter(|n| n.kind == NodeKind::Sqlite).collect();
        if let Some(path) = &self.sqlite_target {
            let node = match databases.as_slice() {
                [one] => one,
                [] => {
                    return Err(cairn::Error::InvalidArgument(format!(
                        "snapshot {} holds no SQLite database: use --target DIR",
                        id.short()
                    ))
                    .into())
                }
                _ => {
                    return Err(cairn::Error::InvalidArgument(format!(
                        "snapshot {} holds {} databases: use --target DIR",
                        id.short(),
                        databases.len()
                    ))
                    .into())
                }
            };
            let r = restore_db(repo, node, &db_opts(path.clone()))?;
            let note = sel.note.clone();
            if self.json {
                print_json(&serde_json::json!({"snapshot_id": id.to_hex(), "selected": note, "database": r}));
            } else {
                print_db(&r, start.elapsed().as_secs_f64());
            }
            return Ok(0);
        }
        let target = self.target.clone().expect("clap requires --target or --sqlite-target");
        let opts = RestoreOptions { target: target.clone(), include: self.include.clone(), overwrite: self.overwrite };
        let s = restore(repo, &snap, &opts)?;
        // Databases at the top level go through the verified path too.
        let mut reports = Vec::new();
        for node in &databases {
            let name = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&node.name);
            let wanted = self.include.is_empty()
                || self.include.iter().any(|g| g.trim_start_matches('/') == name.to_string_lossy());
            if wanted {
                reports.push(restore_db(repo, node, &db_opts(target.join(name)))?);
            }
        }
        if self.json {
            print_json(
                &serde_json::json!({"snapshot_id": id.to_hex(), "selected": sel.note, "target": target, "stats": s, "databases": reports}),
            );
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
            for r in &reports {
                print_db(r, start.elapsed().as_secs_f64());
            }
        }
        Ok(0)
    }
}

fn print_db(r: &cairn::sqlite::restore::DbRestoreReport, secs: f64) {
    println!(
        "restored database {} ({}, {} pages, {}) in {secs:.2}s; verified: {}",
        r.path.display(),
        r.mode,
        r.pages,
        human(r.bytes),
        r.checks.join(", ")
    );
    if let Some(rb) = &r.rollback {
        println!("rollback copy of the replaced database: {}", rb.display());
    }
    if let Some(l) = &r.symlink {
        println!("{} now points to {}", l.display(), r.path.display());
    }
}

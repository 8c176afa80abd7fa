//! `cairn demo`: the whole job on a generated sample, narrated.

use super::human;
use anyhow::Result;
use cairn::ops::backup::{backup, BackupOptions};
use cairn::ops::restore::{restore, RestoreOptions};
use cairn::repo::config::{Config, DEFAULT_COMPRESSION, DEFAULT_PACK_SIZE};
use cairn::repo::NewKey;
use cairn::seal::crypto::{Cipher, KdfParams};
use cairn::{sample, Repository};
use std::time::Instant;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn demo\n  cairn demo --size-mib 64")]
pub struct Args {
    /// Size of the sample data set in MiB.
    #[arg(long, default_value_t = 64)]
    size_mib: usize,
}

impl Args {
    pub fn run(self) -> Result<i32> {
        let tmp = tempfile::tempdir()?;
        let data = tmp.path().join("app-data");
        let repo_dir = tmp.path().join("repo");
        println!("cairn demo in {}", tmp.path().display());

        let t = Instant::now();
        sample::generate(&data, self.size_mib, 42)?;
        println!(
            "1. generated {} MiB of sample data (scripts, embeddings, a database file) in {:.2}s",
            self.size_mib,
            t.elapsed().as_secs_f64()
        );

        let config = Config::new(Default::default(), DEFAULT_COMPRESSION, DEFAULT_PACK_SIZE)?;
        let key = NewKey {
            password: "demo password".into(),
            params: KdfParams::default(),
            cipher: Cipher::Xaes256Gcm,
            id_key: None,
        };
        let mut repo = Repository::init_local(&repo_dir, config, Some(key))?;
        println!("2. created encrypted repository {} (password \"demo password\")", repo_dir.display());

        let opts = BackupOptions { sources: vec![cairn::source::SourceSpec::path(&data)], ..Default::default() };
        let r1 = backup(&repo, &opts)?;
        println!(
            "3. first backup: snapshot {}, {} files, {} read, {} stored, {:.2}s ({:.0} MiB/s)",
            r1.id.short(),
            r1.snapshot.summary.files,
            human(r1.stats.bytes_read),
            human(r1.written.bytes_new_stored),
            r1.seconds,
            r1.stats.bytes_read as f64 / 1048576.0 / r1.seconds.max(1e-9)
        );

        sample::modify(&data, 42)?;
        repo.load_index()?;
        let r2 = backup(&repo, &opts)?;
        println!(
            "4. changed one script, appended to the database, added a file; second backup: snapshot {}, {} files re-read, {} unchanged, {} new chunks, {} stored, {:.2}s",
            r2.id.short(), r2.stats.files_changed + r2.stats.files_new, r2.stats.files_unmodified,
            r2.written.blobs_new, human(r2.written.bytes_new_stored), r2.seconds
        );

        repo.load_index()?;
        let target = tmp.path().join("restored");
        let (_, latest) = repo.resolve_snapshot("latest")?;
        let rs = restore(&repo, &latest, &RestoreOptions { target: target.clone(), ..Default::default() })?.stats;
        println!("5. restored the latest snapshot: {} files, {} in {:.2}s", rs.files, human(rs.bytes), rs.seconds);

        let t = Instant::now();
        let n = sample::compare_trees(&data, &target.join("app-data"))
            .map_err(|e| anyhow::anyhow!("restore differs: {e}"))?;
        let check = cairn::ops::check::check(&repo, true)?;
        anyhow::ensure!(check.is_ok(), "check found problems: {:?}", check.errors);
        println!("6. verified: {n} files byte-exact with mode and mtime; check --read-data read {} blobs, no errors ({:.2}s)", check.blobs_read, t.elapsed().as_secs_f64());

        let snaps: Vec<_> = repo.list_snapshots()?.into_iter().map(|(_, s)| s).collect();
        let st = cairn::ops::stats::stats(&repo, &snaps, true)?;
        println!(
            "7. repository: 2 snapshots of {} logical, {} stored; dedup {:.2}x, compression {:.2}x",
            human(st.logical_bytes),
            human(st.stored_bytes),
            st.dedup_ratio,
            st.compression_ratio
        );
        let db = sqlite_demo(&repo_dir, tmp.path())?;
        super::demo_stack::run(&repo_dir, tmp.path(), &db, &data.join("scripts"), 11)?;
        Ok(0)
    }
}

/// Add `n` episodes of script text to the demo database.
pub(super) fn add_episodes(db: &std::path::Path, n: usize, seed: u64) -> Result<()> {
    let c = rusqlite::Connection::open(db)?;
    let mut rng = sample::Rng::new(seed);
    let tx = c.unchecked_transaction()?;
    for i in 0..n {
        let body = String::from_utf8_lossy(&sample::script_text(&mut rng, 4000)).into_owned();
        tx.execute("INSERT OR IGNORE INTO projects(id, name) VALUES (?1, 'project')", [(i % 10) as i64])?;
        tx.execute("INSERT INTO episodes(project_id, body) VALUES (?1, ?2)", ((i % 10) as i64, body))?;
    }
    Ok(tx.commit()?)
}

/// How many episodes the demo database holds.
pub(super) fn count_episodes(db: &std::path::Path) -> Result<i64> {
    let c = rusqlite::Connection::open(db)?;
    Ok(c.query_row("SELECT count(*) FROM episodes", [], |r| r.get(0))?)
}

/// The SQLite part: a live WAL database snapshotted page by page, changed,
/// snapshotted again, and restored with every verification; returns its path.
fn sqlite_demo(repo_dir: &std::path::Path, dir: &std::path::Path) -> Result<std::path::PathBuf> {
    use cairn::source::SourceSpec;
    let db = dir.join("app.sqlite");
    let c = rusqlite::Connection::open(&db)?;
    c.execute_batch(
        "PRAGMA journal_mode=wal;
         CREATE TABLE projects(id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE episodes(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES projects(id), body TEXT);",
    )?;
    drop(c);
    add_episodes(&db, 2000, 7)?;
    let mut repo = Repository::open_local(repo_dir, Some(&|| Ok("demo password".to_string())))?;
    let spec = SourceSpec { source: &cairn::source::sqlite::Sqlite, location: db.clone().into() };
    let opts = BackupOptions { sources: vec![spec], ..Default::default() };
    let r1 = backup(&repo, &opts)?;
    let m = &r1.reports[0].json;
    println!(
        "8. SQLite: snapshot of a live WAL database ({} pages, {}) in one read transaction held {} ms; {} stored",
        m["pages"],
        human(m["bytes"].as_u64().unwrap_or(0)),
        m["hold_ms"],
        human(r1.written.bytes_new_stored)
    );
    add_episodes(&db, 20, 8)?;
    repo.load_index()?;
    let r2 = backup(&repo, &opts)?;
    println!(
        "9. added 1% more episodes; next snapshot stored {} new pages, {} ({:.2}% of the database)",
        r2.written.blobs_new,
        human(r2.written.bytes_new_stored),
        r2.written.bytes_new_stored as f64 * 100.0 / r2.snapshot.summary.bytes.max(1) as f64
    );
    repo.load_index()?;
    let target = dir.join("restored.sqlite");
    let sqlite = &cairn::source::sqlite::Sqlite;
    let rep = cairn::ops::restore::restore_one(&repo, &r2.snapshot, sqlite, &target, &Default::default())?;
    let checks: Vec<&str> = rep.json["checks"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
    println!("10. restored it to {}; verified: {}", target.display(), checks.join(", "));
    Ok(db)
}

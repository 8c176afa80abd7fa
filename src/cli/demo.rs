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
        let key = NewKey { password: "demo password".into(), params: KdfParams::default(), cipher: Cipher::Xaes256Gcm };
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
        sqlite_demo(&repo_dir, tmp.path())?;
        redis_demo(&repo_dir, tmp.path())?;
        Ok(0)
    }
}

/// The SQLite part: a live WAL database snapshotted page by page, changed,
/// snapshotted again, and restored with every verification.
fn sqlite_demo(repo_dir: &std::path::Path, dir: &std::path::Path) -> Result<()> {
    use cairn::source::SourceSpec;
    let db = dir.join("app.sqlite");
    let c = rusqlite::Connection::open(&db)?;
    c.execute_batch(
        "PRAGMA journal_mode=wal;
         CREATE TABLE projects(id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE episodes(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES projects(id), body TEXT);",
    )?;
    let mut rng = sample::Rng::new(7);
    let mut add_episodes = |n: usize| -> Result<()> {
        let tx = c.unchecked_transaction()?;
        for i in 0..n {
            let body = String::from_utf8_lossy(&sample::script_text(&mut rng, 4000)).into_owned();
            tx.execute("INSERT OR IGNORE INTO projects(id, name) VALUES (?1, 'project')", [(i % 10) as i64])?;
            tx.execute("INSERT INTO episodes(project_id, body) VALUES (?1, ?2)", ((i % 10) as i64, body))?;
        }
        Ok(tx.commit()?)
    };
    add_episodes(2000)?;
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
    add_episodes(20)?;
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
    Ok(())
}

/// A private redis-server, killed when dropped.
struct RedisGuard(std::process::Child);

impl Drop for RedisGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Redis part, when `redis-server` is installed: a private server on a
/// loopback port, 10,000 keys written, an RDB taken over the replication
/// protocol, restored as a checked dump.rdb; the server is stopped after.
fn redis_demo(repo_dir: &std::path::Path, dir: &std::path::Path) -> Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let data = dir.join("redis");
    std::fs::create_dir_all(&data)?;
    let spawned = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--repl-diskless-sync-delay", "0", "--dir"])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(child) = spawned else {
        println!("11. Redis: redis-server is not installed, so this part is skipped (apt install redis-server)");
        return Ok(());
    };
    let _guard = RedisGuard(child);
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let conn = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(50)),
            Err(e) => anyhow::bail!("the demo's redis-server did not start: {e}"),
        }
    };
    let mut cmds = String::new();
    for i in 0..10_000 {
        let (k, v) = (format!("job:{i}"), format!("episode {i} queued for rendering"));
        cmds.push_str(&format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len()));
    }
    (&conn).write_all(cmds.as_bytes())?;
    let mut r = BufReader::new(&conn);
    let mut line = String::new();
    for _ in 0..10_000 {
        line.clear();
        r.read_line(&mut line)?;
    }
    let repo = Repository::open_local(repo_dir, Some(&|| Ok("demo password".to_string())))?;
    let url = format!("redis://127.0.0.1:{port}");
    let spec = cairn::source::SourceSpec::parse(url.as_ref());
    let r = backup(&repo, &BackupOptions { sources: vec![spec], ..Default::default() })?;
    println!("11. Redis: {}; stored {}", r.reports[0].text, human(r.written.bytes_new_stored));
    let mut repo = repo;
    repo.load_index()?;
    let target = dir.join("restored-redis");
    let rep = cairn::ops::restore::restore_one(
        &repo,
        &r.snapshot,
        &cairn::source::redis::Redis,
        &target,
        &Default::default(),
    )?;
    println!("12. {}", rep.text.lines().next().unwrap_or_default());
    Ok(())
}

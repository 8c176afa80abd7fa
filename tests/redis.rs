//! Redis sources against real redis-server processes on loopback ports:
//! keys of every type with TTLs round-trip through an RDB taken over the
//! replication protocol (same `DEBUG DIGEST` on a server started from the
//! restored `dump.rdb`, which `redis-check-rdb` accepts); a server that is
//! down, asks for a password or refuses it, a password in the URL, an
//! older repository and an existing target each fail with one line and
//! write nothing.

mod common;
use common::redis::{check_rdb, Server};
use common::*;
use std::fmt::Write;

fn init(repo: &std::path::Path) {
    ok(cairn(repo).args(["init", "--no-encryption"]));
}

/// 90,000 strings, 2,000 each of hashes, lists, sets, sorted sets and
/// streams, 1,000 of them with a one-hour TTL.
fn populate(s: &Server) {
    s.cli(&["DEBUG", "POPULATE", "90000", "str", "32"]);
    let mut cmds = String::new();
    for i in 0..2000 {
        writeln!(cmds, "HSET hash:{i} name scene-{i} act {}", i % 5).unwrap();
        writeln!(cmds, "RPUSH list:{i} a b c {i}").unwrap();
        writeln!(cmds, "SADD set:{i} x y {i}").unwrap();
        writeln!(cmds, "ZADD zset:{i} 1 a 2 b {i} c").unwrap();
        writeln!(cmds, "XADD stream:{i} * field {i}").unwrap();
    }
    for i in 0..1000 {
        writeln!(cmds, "EXPIRE str:{i} 3600").unwrap();
    }
    s.pipe(&cmds);
    assert_eq!(s.cli(&["DBSIZE"]).trim(), "100000");
}

/// A repository and a server holding `populate`'s keys.
fn populated() -> (tempfile::TempDir, std::path::PathBuf, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    init(&repo);
    let src = Server::start(&tmp.path().join("src"), &[]);
    populate(&src);
    (tmp, repo, src)
}

/// The latest snapshot's dump restored under `target`, checked by
/// redis-check-rdb and served by a new server; its directory and what
/// restore printed.
fn restored_server(
    repo: &std::path::Path,
    target: &std::path::Path,
    src: &Server,
) -> (Server, std::path::PathBuf, String) {
    let text = ok(cairn(repo).args(["restore", "latest", "--target"]).arg(target));
    let dir = target.join(format!("redis-127.0.0.1-{}-0", src.port));
    assert!(check_rdb(&dir.join("dump.rdb")), "redis-check-rdb refuses the restored file");
    (Server::start(&dir, &["--dbfilename", "dump.rdb"]), dir, text)
}

#[test]
fn every_type_round_trips_with_the_same_digest() {
    let (tmp, repo, src) = populated();
    let digest = src.digest();
    let out = ok(cairn(&repo).args(["backup", "--json"]).arg(src.url()));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let report = &v["caches"][0];
    assert_eq!(report["keys"], 100000, "{v}");
    assert_eq!(report["server_version"].as_str().unwrap().split('.').next(), Some("7"), "{v}");
    ok(cairn(&repo).args(["check", "--read-data"]));

    let target = tmp.path().join("out");
    let (copy, dir, text) = restored_server(&repo, &target, &src);
    assert!(text.contains("appendonly no"), "the next steps are printed: {text}");
    assert_eq!(copy.digest(), digest, "the restored data differs");
    let ttl: i64 = copy.cli(&["TTL", "str:7"]).trim().parse().unwrap();
    assert!((3300..=3600).contains(&ttl), "TTL {ttl}");
    assert_eq!(copy.cli(&["TTL", "str:5000"]).trim(), "-1");

    // The target holds a dump.rdb now: refused without --overwrite, the
    // file unchanged; replaced with it.
    let before = std::fs::read(dir.join("dump.rdb")).unwrap();
    let (code, err) = fails(cairn(&repo).args(["restore", "latest", "--target"]).arg(&target));
    assert_ne!(code, 0);
    one_line(&err);
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(std::fs::read(dir.join("dump.rdb")).unwrap(), before);
    ok(cairn(&repo).args(["restore", "latest", "--overwrite", "--target"]).arg(&target));
    assert!(check_rdb(&dir.join("dump.rdb")));
}

#[test]
fn bad_servers_and_urls_fail_with_one_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    init(&repo);
    let refused = |args: &[&str], env: Option<&str>, want: &str| {
        let mut c = cairn(&repo);
        c.arg("backup").args(args);
        if let Some(pw) = env {
            c.env("CAIRN_REDIS_PASSWORD", pw);
        }
        let (code, err) = fails(&mut c);
        assert_ne!(code, 0);
        one_line(&err);
        assert!(err.contains(want), "want {want:?}: {err}");
        assert!(!err.contains("s3cret"), "the password was shown: {err}");
        assert!(snapshots(&repo).is_empty(), "a snapshot was written: {err}");
    };
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    refused(&[&format!("redis://127.0.0.1:{port}")], None, "cannot connect");
    refused(&["redis://app:s3cret@127.0.0.1:1"], None, "CAIRN_REDIS_PASSWORD");
    refused(&["rediss://127.0.0.1:1"], None, "TLS");
    let locked = Server::start(&tmp.path().join("locked"), &["--requirepass", "s3cret"]);
    refused(&[&locked.url()], None, "asks for a password");
    refused(&[&locked.url()], Some("wrong"), "refused the password");
    // The right one, from the environment: works.
    let out = ok(cairn(&repo).arg("backup").arg(locked.url()).env("CAIRN_REDIS_PASSWORD", "s3cret"));
    assert!(out.contains("redis redis://127.0.0.1"), "{out}");
    let shown = ok(cairn(&repo).args(["snapshots", "--json"]));
    assert!(!shown.contains("s3cret"), "the password is in the snapshot: {shown}");
    // A format-5 repository predates Redis sources.
    let old = tmp.path().join("old");
    ok(cairn(&old).args(["init", "--no-encryption", "--repository-version", "5"]));
    let (code, err) = fails(cairn(&old).arg("backup").arg(locked.url()).env("CAIRN_REDIS_PASSWORD", "s3cret"));
    assert_ne!(code, 0);
    one_line(&err);
    assert!(err.contains("format 6"), "{err}");
}

/// A writer commits transactions while snapshots are taken: each restored
/// RDB holds exactly one moment of its sequence (`seq:0..=last`, nothing
/// after), and the writer went on meanwhile.
#[test]
fn snapshots_under_a_writer_are_points_in_time() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    init(&repo);
    let src = Server::start(&tmp.path().join("src"), &[]);
    src.cli(&["DEBUG", "POPULATE", "50000", "bulk", "64"]);
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let w = common::redis::writer(src.port, stop.clone());
    let mut seen = vec![];
    for i in 0..3 {
        while src.cli(&["GET", "last"]).trim().parse::<u64>().unwrap_or(0) < 200 * (i + 1) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        ok(cairn(&repo).arg("backup").arg(src.url()));
        let target = tmp.path().join(format!("out{i}"));
        ok(cairn(&repo).args(["restore", "latest", "--target"]).arg(&target));
        let dir = target.join(format!("redis-127.0.0.1-{}-0", src.port));
        let copy = Server::start(&dir, &["--dbfilename", "dump.rdb"]);
        let last: u64 = copy.cli(&["GET", "last"]).trim().parse().unwrap();
        let seq = copy.cli(&["EVAL", "return #redis.call('KEYS', 'seq:*')", "0"]);
        assert_eq!(seq.trim(), (last + 1).to_string(), "snapshot {i}: not one moment of the writer");
        assert_eq!(copy.cli(&["DBSIZE"]).trim(), (50000 + last + 2).to_string());
        seen.push(last);
    }
    stop.store(true, Ordering::Relaxed);
    let committed = w.join().unwrap();
    assert!(seen.windows(2).all(|p| p[0] < p[1]) && committed > seen[2], "{seen:?}, {committed} committed");
}

/// The alternative method: BGSAVE and the dump file read once the save
/// counter advanced; the same digest as the server had. A dump path that
/// cannot be read fails with one line and writes nothing.
#[test]
fn bgsave_method_round_trips_and_a_missing_dump_fails_cleanly() {
    let (tmp, repo, src) = populated();
    let digest = src.digest();
    let saves = |s: &Server| -> u64 {
        s.cli(&["INFO", "persistence"])
            .lines()
            .find_map(|l| l.strip_prefix("rdb_saves:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = saves(&src);
    let out = ok(cairn(&repo).args(["backup", "--json", "--redis-bgsave"]).arg(src.url()));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["caches"][0]["method"].as_str(), v["caches"][0]["transfer"].as_str()),
        (Some("bgsave"), Some("Bgsave")),
        "{v}"
    );
    assert_eq!(saves(&src), before + 1, "one BGSAVE");
    let (copy, _, _) = restored_server(&repo, &tmp.path().join("out"), &src);
    assert_eq!(copy.digest(), digest, "the restored data differs");

    let (_, err) =
        fails(cairn(&repo).args(["backup", "--redis-bgsave", "--redis-dump", "/nonexistent/dump.rdb"]).arg(src.url()));
    one_line(&err);
    assert!(err.contains("cannot read the dump file /nonexistent/dump.rdb"), "{err}");
    assert_eq!(snapshots(&repo).len(), 1, "a failed backup wrote a snapshot");
}

/// `--redis-target`: the RDB loaded key by key into an empty running
/// server gives the source's digest (every type, large encodings, a stream
/// with a consumer group and pending entries, TTLs, a second database, a
/// function library); a server holding keys is refused unless --overwrite.
#[test]
fn loading_into_a_running_server_gives_the_same_digest() {
    let (tmp, repo, src) = populated();
    let mut cmds = String::new();
    for i in 0..600 {
        writeln!(cmds, "HSET bighash f{i} {i}").unwrap();
        writeln!(cmds, "RPUSH biglist item-{i}-{}", "x".repeat(i % 70)).unwrap();
        writeln!(cmds, "SADD bigset member-{i}").unwrap();
        writeln!(cmds, "SADD intset {i}").unwrap();
        writeln!(cmds, "ZADD bigzset {i}.5 m{i}").unwrap();
        writeln!(cmds, "XADD events * n {i}").unwrap();
    }
    src.pipe(&cmds);
    src.cli(&["XGROUP", "CREATE", "events", "workers", "0"]);
    src.cli(&["XREADGROUP", "GROUP", "workers", "alice", "COUNT", "5", "STREAMS", "events", ">"]);
    src.cli(&["-n", "3", "SET", "other-db", "x"]);
    src.cli(&["SET", "lz", &"compressible ".repeat(200)]);
    src.cli(&["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('one', function() return 1 end)"]);
    let digest = src.digest();
    ok(cairn(&repo).arg("backup").arg(src.url()));

    let dst = Server::start(&tmp.path().join("dst"), &[]);
    let out = ok(cairn(&repo).args(["restore", "latest", "--json", "--redis-target"]).arg(dst.url()));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["cache"]["keys"], 100_000 + 8, "{v}");
    assert_eq!(dst.digest(), digest, "the loaded data differs");
    let ttl: i64 = dst.cli(&["TTL", "str:7"]).trim().parse().unwrap();
    assert!((3300..=3600).contains(&ttl), "TTL {ttl}");
    assert!(dst.cli(&["FUNCTION", "LIST"]).contains("mylib"));
    assert_eq!(dst.cli(&["XPENDING", "events", "workers"]).lines().next(), Some("5"));

    // Not into a server that holds keys, unless --overwrite.
    let (_, err) = fails(cairn(&repo).args(["restore", "latest", "--redis-target"]).arg(dst.url()));
    one_line(&err);
    assert!(err.contains("holds 100008 keys") && err.contains("--overwrite"), "{err}");
    dst.cli(&["SET", "str:7", "changed"]);
    ok(cairn(&repo).args(["restore", "latest", "--overwrite", "--redis-target"]).arg(dst.url()));
    assert_eq!(dst.digest(), digest, "--overwrite replaces every key (and the function library)");
}

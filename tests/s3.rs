//! The S3 backend against a real S3-compatible store (Garage on loopback):
//! the backend conformance suite; the end-to-end path (init, file and SQLite
//! backups, restore byte-exact, check --read-data, forget --prune); the
//! three failures a user meets first (credentials, bucket, endpoint), each
//! one line with its exit code; requests per GiB and the metadata cache,
//! counted by Garage itself. Every source kind and stacks: `s3_sources.rs`;
//! faults and many writers: `s3_faults.rs`.

mod common;
use common::garage::{delta, Garage};
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// `cairn --repo REPO` with the server's credentials.
fn on(g: &Garage, repo: &str) -> std::process::Command {
    let mut c = cairn(Path::new(repo));
    g.env(&mut c);
    c
}

#[test]
fn s3_backend_conforms_and_a_repository_round_trips() {
    let g = Garage::start();
    // SAFETY (set_var): set before any thread of this test uses the environment;
    // the other tests of this binary pass credentials to child processes only.
    std::env::set_var("AWS_ACCESS_KEY_ID", &g.key_id);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &g.secret);
    std::env::set_var("AWS_REGION", "garage");
    let b = cairn::backend::s3::S3Backend::open(&g.repo("conformance"), Default::default()).unwrap();
    cairn::backend::conformance(&b);
    // Garage 2.5 ignores If-None-Match on PutObject (its handle_put reads
    // no precondition): the probe must say so, and init then says so too.
    assert!(!cairn::backend::Backend::creates_exclusively(&b));

    let repo = g.repo("e2e");
    let tmp = tempfile::tempdir().unwrap();
    let (data, db) = (tmp.path().join("data"), tmp.path().join("app.db"));
    let err = ok_err(on(&g, &repo).arg("init").args(SMALL_CHUNKS).args(FAST_KDF));
    assert!(err.contains("ignores If-None-Match"), "{err}");
    state(&data, 5);
    appdb::make_app_db(&db, 300);
    let sqlite = format!("sqlite:{}", db.display());
    ok(on(&g, &repo).arg("backup").arg(&data).arg(&sqlite));
    state(&data, 6);
    ok(on(&g, &repo).arg("backup").arg(&data).arg(&sqlite));
    let out = tmp.path().join("out");
    ok(on(&g, &repo).args(["restore", "latest", "--target"]).arg(&out));
    assert_eq!(digest(&out.join("data")), digest(&data));
    assert_eq!(appdb::query_i64(&out.join("app.db"), "SELECT count(*) FROM episodes"), 300);
    ok(on(&g, &repo).args(["check", "--read-data"]));
    ok(on(&g, &repo).args(["forget", "--keep-last", "1", "--prune"]));
    ok(on(&g, &repo).args(["check", "--read-data"]));
    // A second init on the same prefix is refused, in one line.
    let (_, err) = fails(on(&g, &repo).arg("init").args(FAST_KDF));
    one_line(&err);
}

/// `ok`, returning stderr.
fn ok_err(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {err}");
    err
}

#[test]
fn wrong_credentials_missing_bucket_and_no_answer_are_one_line_each_with_their_exit_code() {
    let g = Garage::start();
    let repo = g.repo("r");
    ok(on(&g, &repo).arg("init").args(FAST_KDF));
    let (code, err) = fails(on(&g, &repo).env("AWS_SECRET_ACCESS_KEY", "0".repeat(64)).arg("snapshots"));
    assert_eq!(code, 13, "{err}");
    one_line(&err);
    assert!(err.contains("refused the credentials") && err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    let (code, err) = fails(on(&g, &repo).env("AWS_ACCESS_KEY_ID", "GK000000000000000000000000").arg("snapshots"));
    assert_eq!(code, 13, "{err}");
    one_line(&err);

    // s3://BUCKET/PREFIX with keys, region and endpoint from an AWS profile
    // (~/.aws/credentials and ~/.aws/config), nothing in the environment.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    let creds = format!("[cairn]\naws_access_key_id = {}\naws_secret_access_key = {}\n", g.key_id, g.secret);
    std::fs::write(home.path().join(".aws/credentials"), creds).unwrap();
    let config = format!("[profile cairn]\nregion = garage\nendpoint_url = {}\n", g.endpoint);
    std::fs::write(home.path().join(".aws/config"), config).unwrap();
    let mut profiled = cairn(Path::new("s3://cairn/r"));
    for v in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"] {
        profiled.env_remove(v);
    }
    profiled
        .env("HOME", home.path())
        .env("AWS_PROFILE", "cairn")
        .env_remove("CAIRN_CACHE_DIR")
        .env_remove("XDG_CACHE_HOME");
    ok(profiled.args(["snapshots"]));
    assert!(home.path().join(".cache/cairn/CACHEDIR.TAG").exists(), "the cache goes under ~/.cache/cairn");

    let (code, err) = fails(on(&g, &format!("s3:{}/no-such-bucket/r", g.endpoint)).arg("snapshots"));
    assert_eq!(code, 14, "{err}");
    one_line(&err);
    assert!(err.contains("bucket does not exist"), "{err}");

    // Nothing listens there: retried with backoff for --retry-timeout, then one line.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let start = Instant::now();
    let nowhere = format!("s3:http://127.0.0.1:{closed}/b/r");
    let (code, err) = fails(on(&g, &nowhere).args(["--retry-timeout", "3s", "snapshots"]));
    assert_eq!(code, 15, "{err}");
    one_line(&err);
    assert!(err.contains("could not reach"), "{err}");
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(20), "gave up after {took:?}");
    // And init there creates nothing anywhere, locally either.
    let (code, _) = fails(on(&g, &nowhere).args(["--retry-timeout", "1s", "init"]).args(FAST_KDF));
    assert_eq!(code, 15);
    assert!(!Path::new("s3:http:").exists());
}

/// Documented bounds (README, "Cost on object storage"): for a backup of
/// new data, PUTs are the packs (16 MiB each) plus a handful per snapshot;
/// LISTs a fixed few per command (9 for a backup, whatever its size); a
/// restore reads each pack in one range. The cache serves snapshots, index files and trees, so opening a
/// repository again costs the config, its keys and listings, however many
/// snapshots it holds; deleted, it is rebuilt.
#[test]
fn requests_per_gib_and_the_metadata_cache() {
    let g = Garage::start();
    let repo = g.repo("cost");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    cairn::sample::generate(&data, 96, 3).unwrap();
    let gib = dir_bytes(&data) as f64 / (1u64 << 30) as f64;
    ok(on(&g, &repo).arg("init").args(FAST_KDF));

    let before = g.requests();
    let prom = tmp.path().join("backup.prom");
    let err = ok_err(on(&g, &repo).arg("-v").arg("--metrics-file").arg(&prom).arg("backup").arg(&data));
    let b = delta(&before, &g.requests());
    // cairn's own count (its metrics, and -v) is the server's.
    let text = std::fs::read_to_string(&prom).unwrap();
    let counted = |op: &str| {
        let l = format!("operation=\"{op}\"");
        let mut lines = text.lines().filter(|x| x.starts_with("cairn_storage_requests_total{"));
        let line = lines.find(|x| x.contains(&l)).unwrap_or_else(|| panic!("no {op} requests in {text}"));
        line.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64
    };
    assert_eq!(counted("put"), b["PutObject"], "{text}");
    assert_eq!(counted("list"), b["ListObjectsV2"], "{text}");
    assert_eq!(counted("get"), b.get("GetObject").copied().unwrap_or(0), "{text}");
    assert!(err.contains(&format!("storage requests: {} put", b["PutObject"])), "{err}");
    let per_gib = |op: &str, d: &std::collections::BTreeMap<String, u64>| *d.get(op).unwrap_or(&0) as f64 / gib;
    eprintln!("backup of {:.0} MiB: {b:?}", gib * 1024.0);
    // 64 packs per GiB at 16 MiB, + index, snapshot: at most 64 × 1.1 + 8 / backup.
    assert!(per_gib("PutObject", &b) <= 64.0 * 1.1 + 8.0 / gib, "{b:?}");
    assert!(b.get("ListObjectsV2").copied().unwrap_or(0) <= 10, "{b:?}");

    let before = g.requests();
    let out = tmp.path().join("out");
    ok(on(&g, &repo).args(["restore", "latest", "--target"]).arg(&out));
    let r = delta(&before, &g.requests());
    eprintln!("restore: {r:?}");
    assert_eq!(digest(&out.join("data")), digest(&data));
    // One GET per pack (a range holds a whole pack), the config and a key:
    // the trees came into the cache when the backup wrote them.
    assert!(per_gib("GetObject", &r) <= 64.0 * 1.1 + 4.0 / gib, "{r:?}");
    assert!(r.get("ListObjectsV2").copied().unwrap_or(0) <= 10, "{r:?}");

    // Thirty small snapshots more, each on top of the big one.
    let small = tmp.path().join("small");
    for h in 0..30 {
        state(&small, h);
        ok(on(&g, &repo).arg("backup").arg(&small).arg("--tag").arg(format!("h{h}")));
    }
    let count = |args: &[&str]| {
        let before = g.requests();
        let out = ok(on(&g, &repo).args(args).args(["snapshots", "--json"]));
        let n = serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().unwrap().len();
        assert_eq!(n, 31);
        delta(&before, &g.requests())
    };
    let warm = count(&[]);
    let cold = count(&["--no-cache"]);
    eprintln!("snapshots with the cache: {warm:?}; without: {cold:?}");
    // Warm: the config and one key file; cold: every snapshot too.
    assert!(warm.get("GetObject").copied().unwrap_or(0) <= 2, "{warm:?}");
    assert!(cold.get("GetObject").copied().unwrap_or(0) >= 31 + 2, "{cold:?}");
    std::fs::remove_dir_all(g.path().join("cache")).unwrap();
    let rebuilt = count(&[]);
    assert!(rebuilt.get("GetObject").copied().unwrap_or(0) >= 31, "{rebuilt:?}");
    assert!(count(&[]).get("GetObject").copied().unwrap_or(0) <= 2);

    // An unchanged backup reads its parent's trees from the cache: only
    // the config and key come from the store (no pack range). The first
    // refills what deleting the cache took (index files, a tree).
    let before = g.requests();
    ok(on(&g, &repo).arg("backup").arg(&small));
    let refill = delta(&before, &g.requests());
    assert!(refill.get("GetObject").copied().unwrap_or(0) >= 31, "index files come back: {refill:?}");
    let before = g.requests();
    ok(on(&g, &repo).arg("backup").arg(&small));
    let again = delta(&before, &g.requests());
    eprintln!("unchanged backup with the cache: {again:?}");
    assert!(again.get("GetObject").copied().unwrap_or(0) <= 2, "{again:?}");

    // Forgotten snapshots leave the cache at the next listing, and the
    // bound holds (the unit tests trim to a size; here the flag reaches it):
    // with --cache-size 0 nothing stays, and the command still works.
    ok(on(&g, &repo).args(["forget", "--keep-last", "5", "--prune"]));
    let kept = serde_json::from_str::<serde_json::Value>(&ok(on(&g, &repo).args(["snapshots", "--json"]))).unwrap();
    let kept = kept.as_array().unwrap().len();
    assert_eq!(kept, 6, "the last 5 of `small` and the one of `data`");
    let cached = std::fs::read_dir(cache_dir(&g).join("snapshots")).unwrap().count();
    assert_eq!(cached, kept, "the cache still holds forgotten snapshots");
    assert!(dir_bytes(&cache_dir(&g)) > 64 << 10, "{} bytes cached", dir_bytes(&cache_dir(&g)));
    ok(on(&g, &repo).args(["--cache-size", "0", "ls", "latest"]));
    assert!(dir_bytes(&cache_dir(&g)) <= 8, "a cache of size 0 kept entries");
    ok(on(&g, &repo).args(["check", "--read-data"]));
}

/// The one repository's directory under the test's cache root.
fn cache_dir(g: &Garage) -> std::path::PathBuf {
    let root = g.path().join("cache");
    std::fs::read_dir(&root).unwrap().flatten().map(|e| e.path()).find(|p| p.is_dir()).expect("a cache directory")
}

fn dir_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

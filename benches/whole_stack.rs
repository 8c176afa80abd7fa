//! One whole-stack snapshot and its full restore, beside restic, in one run:
//! a SQLite database in WAL mode (benches/appdb.rs), a Chroma directory
//! (the real chromadb), script files and a private redis-server with
//! 100,000 keys of every type.
//!
//! cairn: `backup --stack` of a stack file naming the four, into a fresh
//! repository each run; its JSON gives each component's time and hold.
//! restic: what the operations guide's scripts do, as one shell command
//! per component, timed each: `sqlite3 .backup` (its read transaction is
//! held for the whole copy: that is its hold), `redis-cli --rdb` (the same
//! replication transfer cairn uses), a copy of the Chroma directory, then
//! `restic backup` of the files and those copies. Both restore everything
//! (cairn verifies each component). Redis's own hold, the fork, is read
//! from `INFO stats` (`latest_fork_usec`) after each snapshot.
//!
//! `cargo bench --bench whole_stack` (env: BENCH_DB_MIB=512,
//! BENCH_ITEMS=50000, BENCH_FILES=2000, BENCH_KEYS=100000, BENCH_RUNS=3,
//! BENCH_DIR=target/bench). Needs chromadb (`./scripts/test` installs it),
//! redis-server and redis-tools, restic and sqlite3.

#[path = "appdb.rs"]
mod appdb;
#[path = "common.rs"]
mod common;
#[path = "stackdata.rs"]
mod stackdata;
use common::*;
use stackdata::{run_step, step, tool};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn shell(cmd: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", cmd]).stdout(Stdio::null());
    c.env("CAIRN_PASSWORD", "bench").env("RESTIC_PASSWORD", "bench");
    c
}

fn sh_ok(cmd: &str) {
    assert!(shell(cmd).status().unwrap().success(), "{cmd}");
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let o = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The server's last fork, in ms.
fn fork_ms(port: u16) -> f64 {
    let info = redis_cli(port, &["INFO", "stats"]);
    let us: f64 = info.lines().find_map(|l| l.strip_prefix("latest_fork_usec:")).unwrap().trim().parse().unwrap();
    us / 1000.0
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return;
    }
    if let Ok(spec) = std::env::var("BENCH_STACK_STEP") {
        return run_step(&spec);
    }
    let (mib, items, nfiles, keys, runs): (u64, usize, usize, usize, usize) = (
        env_or("BENCH_DB_MIB", 512),
        env_or("BENCH_ITEMS", 50_000),
        env_or("BENCH_FILES", 2_000),
        env_or("BENCH_KEYS", 100_000),
        env_or("BENCH_RUNS", 3),
    );
    for p in ["restic", "sqlite3", "redis-server", "redis-cli"] {
        assert!(have(p), "{p} is needed for this benchmark (apt install restic sqlite3 redis-server)");
    }
    let base = std::path::absolute(PathBuf::from(env_or("BENCH_DIR", "target/bench".to_string())).join("whole-stack"))
        .unwrap();
    let _ = std::fs::remove_dir_all(&base);
    let (db, chroma, files, rdir, stage) =
        (base.join("app.db"), base.join("chroma"), base.join("scripts"), base.join("redis"), base.join("stage"));
    for d in [&rdir, &stage] {
        std::fs::create_dir_all(d).unwrap();
    }
    let d = |p: &Path| p.display().to_string();
    eprintln!("generating: {mib} MiB database, {items} Chroma items, {nfiles} files, {keys} Redis keys");
    step(&["db".into(), d(&db), mib.to_string()]);
    step(&["files".into(), d(&files), "0".into(), nfiles.to_string(), "1".into()]);
    tool(&["make".into(), d(&chroma), items.to_string(), "1".into()]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The default repl-diskless-sync-delay (5 s) is kept: it is what users run.
    let mut server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--enable-debug-command", "local"])
        .arg("--dir")
        .arg(&rdir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    while redis_cli(port, &["PING"]).trim() != "PONG" {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let strings = keys * 9 / 10;
    redis_cli(port, &["DEBUG", "POPULATE", &strings.to_string(), "str", "64"]);
    let mut cmds = String::new();
    for i in 0..(keys - strings) / 5 {
        cmds += &format!("HSET hash:{i} name scene-{i} act 3\nRPUSH list:{i} a b c\nSADD set:{i} x y\nZADD zset:{i} 1 a 2 b\nXADD stream:{i} * f {i}\n");
    }
    let mut p = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut p.stdin.take().unwrap(), cmds.as_bytes()).unwrap();
    assert!(p.wait().unwrap().success());

    let stack_file = base.join("cairn.toml");
    std::fs::write(
        &stack_file,
        format!(
            "name = \"bench\"\n[[component]]\nname = \"projects\"\nkind = \"sqlite\"\npath = \"{}\"\n[[component]]\nname = \"vectors\"\nkind = \"chroma\"\npath = \"{}\"\n[[component]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\n[[component]]\nname = \"scripts\"\nkind = \"files\"\npath = \"{}\"\n",
            d(&db), d(&chroma), d(&files)
        ),
    )
    .unwrap();
    let cairn = env!("CARGO_BIN_EXE_cairn");
    // metric -> tool -> values
    let mut res: BTreeMap<String, BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    let mut put =
        |m: &str, t: &'static str, v: f64| res.entry(m.to_string()).or_default().entry(t).or_default().push(v);
    for run in 0..runs {
        warm(&base);
        // cairn: a fresh repository, one stack snapshot.
        let repo = base.join(format!("repo-cairn-{run}"));
        sh_ok(&format!("{cairn} -r {} init", repo.display()));
        let start = std::time::Instant::now();
        let out = shell(&format!("{cairn} -r {} backup --stack {} --json", repo.display(), stack_file.display()))
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        put("1 snapshot s", "cairn", start.elapsed().as_secs_f64());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        put("3 redis fork ms", "cairn", fork_ms(port));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for c in v["components"].as_array().unwrap() {
            let n = c["name"].as_str().unwrap();
            let key = if n == "scripts" { "2 scripts s".to_string() } else { format!("2 {n} s (restic: the copy)") };
            put(&key, "cairn", c["seconds"].as_f64().unwrap());
            if let Some(h) = c["hold_ms"].as_f64() {
                put(&format!("4 {n} hold ms"), "cairn", h);
            }
        }
        put("6 repository MiB", "cairn", dir_size(&repo) as f64 / 1048576.0);

        // restic: the guide's staging copies, each timed, then one backup.
        let rrepo = base.join(format!("repo-restic-{run}"));
        sh_ok(&format!("restic -q -r {} init", rrepo.display()));
        let _ = std::fs::remove_dir_all(&stage);
        std::fs::create_dir_all(&stage).unwrap();
        let steps = [
            ("projects", format!("sqlite3 {} \".backup '{}/app.db'\"", d(&db), d(&stage))),
            ("cache", format!("redis-cli -p {port} --rdb {}/dump.rdb", d(&stage))),
            ("vectors", format!("cp -a {} {}/chroma", d(&chroma), d(&stage))),
        ];
        let mut total = 0.0;
        for (n, cmd) in &steps {
            let (t, _, _) = measure(&mut shell(cmd));
            total += t;
            put(&format!("2 {n} s (restic: the copy)"), "restic", t);
            if *n == "projects" {
                put("4 projects hold ms", "restic", t * 1000.0);
            }
            if *n == "cache" {
                put("3 redis fork ms", "restic", fork_ms(port));
            }
        }
        let (t, _, _) =
            measure(&mut shell(&format!("restic -q -r {} backup {} {}", rrepo.display(), d(&files), d(&stage))));
        // restic stores everything here: the files and the copies.
        put("2 restic backup s", "restic", t);
        put("1 snapshot s", "restic", total + t);
        put("6 repository MiB", "restic", dir_size(&rrepo) as f64 / 1048576.0);

        // Full restores.
        let (ct, rt) = (base.join("restore-cairn"), base.join("restore-restic"));
        let _ = std::fs::remove_dir_all(&ct);
        let _ = std::fs::remove_dir_all(&rt);
        let (t, _, _) = measure(&mut shell(&format!(
            "{cairn} -r {} restore --stack {} --target-root {}",
            repo.display(),
            stack_file.display(),
            ct.display()
        )));
        put("5 full restore s", "cairn", t);
        let (t, _, _) =
            measure(&mut shell(&format!("restic -q -r {} restore latest --target {}", rrepo.display(), rt.display())));
        put("5 full restore s", "restic", t);
        eprintln!("run {run} done");
    }
    let _ = server.kill();
    let _ = server.wait();
    println!(
        "\nwhole-stack benchmark: {} MiB database, {items} Chroma items ({} MiB), {nfiles} files ({} MiB), {keys} Redis keys; medians of {runs} runs",
        std::fs::metadata(&db).map(|m| m.len() >> 20).unwrap_or(0),
        dir_size(&chroma) >> 20,
        dir_size(&files) >> 20
    );
    println!("{:<36}{:>12}{:>12}{:>14}", "metric", "cairn", "restic", "restic/cairn");
    for (metric, per) in &res {
        let m = |t: &str| per.get(t).map(|v| median(v.clone()));
        let f = |x: Option<f64>| x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        let ratio = match (m("restic"), m("cairn")) {
            (Some(r), Some(c)) if c > 0.0 => format!("{:.2}", r / c),
            _ => "-".into(),
        };
        println!("{:<36}{:>12}{:>12}{:>14}", &metric[2..], f(m("cairn")), f(m("restic")), ratio);
    }
}

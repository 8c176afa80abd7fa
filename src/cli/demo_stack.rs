//! The demo's whole-stack part: a stack file naming a SQLite database, a
//! Chroma directory, the scripts tree and (when `redis-server` is
//! installed) a private Redis server; one stack snapshot, every component
//! changed, a second, then the first restored in place and checked.

use super::human;
use anyhow::Result;
use cairn::stack::backup::StackBackupOptions;
use cairn::stack::restore::{Mode, StackRestoreOptions};
use cairn::Repository;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A private redis-server, killed when dropped.
struct RedisGuard(std::process::Child);

impl Drop for RedisGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A redis-server on a free loopback port with its data in `dir`, or None
/// when it is not installed.
fn start_redis(dir: &Path) -> Result<Option<(RedisGuard, u16)>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    std::fs::create_dir_all(dir)?;
    let spawned = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--repl-diskless-sync-delay", "0", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = spawned else { return Ok(None) };
    let guard = RedisGuard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the demo's redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Some((guard, port)))
}

/// Send `n` SET commands (`job:i` → `text i`) and read their replies.
fn redis_set(port: u16, n: usize, text: &str) -> Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let conn = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let mut cmds = String::new();
    for i in 0..n {
        let (k, v) = (format!("job:{i}"), format!("{text} {i}"));
        cmds.push_str(&format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len()));
    }
    (&conn).write_all(cmds.as_bytes())?;
    let mut r = BufReader::new(&conn);
    let mut line = String::new();
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line)?;
    }
    Ok(())
}

/// A real Chroma directory when `python3` has chromadb, else the generated
/// layout; says which.
fn make_chroma(dir: &Path, items: usize, seed: u64) -> Result<&'static str> {
    const SCRIPT: &str = "import chromadb, random, sys
c = chromadb.PersistentClient(path=sys.argv[1]); col = c.get_or_create_collection('scripts')
r = random.Random(int(sys.argv[3])); n = int(sys.argv[2]); have = col.count()
for s in range(have, have + n, 500):
    ids = [f'scene-{i}' for i in range(s, min(have + n, s + 500))]
    col.add(ids=ids, embeddings=[[r.random() for _ in range(64)] for _ in ids], documents=[f'scene {i}' for i in ids])
";
    let py = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(dir)
        .args([items.to_string(), seed.to_string()])
        .env("ANONYMIZED_TELEMETRY", "False")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if py.is_ok_and(|s| s.success()) {
        return Ok("Chroma: a real ChromaDB directory, python3 has chromadb");
    }
    let have = std::fs::read_dir(dir.join("5f0c2a8e-0000-4000-8000-00000000hnsw")).is_ok();
    let _ = std::fs::remove_dir_all(dir);
    let total = if have { items + 1000 } else { items };
    cairn::sample::chroma_layout(dir, total, 64, seed).map_err(anyhow::Error::msg)?;
    Ok("Chroma: a generated Chroma-layout directory, since python3 has no chromadb; the layout is what cairn reads")
}

/// Path → BLAKE3 of every file below `dir`.
fn hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let h = blake3::hash(&std::fs::read(e.path()).ok()?).to_hex().to_string();
            Some((e.path().strip_prefix(dir).ok()?.to_path_buf(), h))
        })
        .collect()
}

/// Steps `first`…: the whole stack.
pub fn run(repo_dir: &Path, dir: &Path, db: &Path, scripts: &Path, first: usize) -> Result<()> {
    let stack_dir = dir.join("stack");
    let chroma = stack_dir.join("chroma");
    std::fs::create_dir_all(&stack_dir)?;
    let chroma_kind = make_chroma(&chroma, 2000, 1)?;
    let redis = start_redis(&stack_dir.join("redis"))?;
    let mut toml = format!(
        "name = \"demo\"\n[[component]]\nname = \"projects\"\nkind = \"sqlite\"\npath = \"{}\"\n[[component]]\nname = \"vectors\"\nkind = \"chroma\"\npath = \"chroma\"\n[[component]]\nname = \"scripts\"\nkind = \"files\"\npath = \"{}\"\nexclude = [\"*.tmp\"]\n",
        db.display(),
        scripts.display()
    );
    let redis_note = match &redis {
        Some((_, port)) => {
            redis_set(*port, 10_000, "episode queued for rendering")?;
            toml += &format!("[[component]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\ndir = \"redis\"\n");
            format!("cache (Redis: a private server on port {port}, 10,000 keys)")
        }
        None => {
            "no Redis: redis-server is not installed, so that component is left out (apt install redis-server)".into()
        }
    };
    let file = stack_dir.join("cairn.toml");
    std::fs::write(&file, &toml)?;
    let stack = cairn::stack::load(&file)?;
    println!(
        "{first}. the whole stack in one stack file ({}): projects (SQLite), vectors ({chroma_kind}), scripts (files), {redis_note}",
        file.display()
    );
    let mut repo = Repository::open_local(repo_dir, Some(&|| Ok("demo password".to_string())))?;
    let before = (hashes(scripts), super::demo::count_episodes(db)?);
    let r1 = cairn::stack::backup::backup(&repo, &stack, &StackBackupOptions::default())?;
    let st = r1.snapshot.stack.as_ref().expect("a stack snapshot");
    println!("{}. one stack snapshot {} in {:.2}s, components in capture order:", first + 1, r1.id.short(), r1.seconds);
    for c in &st.components {
        let hold = c
            .hold_us
            .map(|h| format!("held its application {} ms", h / 1000))
            .unwrap_or_else(|| "no hold measured".into());
        println!(
            "    {:<9} {:>10} in {:.2}s by {} ({hold})",
            c.name,
            human(c.bytes),
            c.duration_us as f64 / 1e6,
            c.method
        );
    }
    super::demo::add_episodes(db, 50, 99)?;
    std::fs::write(scripts.join("new-scene.fountain"), "INT. NEW SCENE - NIGHT")?;
    make_chroma(&chroma, 100, 2)?;
    if let Some((_, port)) = &redis {
        redis_set(*port, 1000, "episode rendered")?;
    }
    repo.load_index()?;
    let r2 = cairn::stack::backup::backup(&repo, &stack, &StackBackupOptions::default())?;
    println!(
        "{}. changed every component; second stack snapshot {} stored {} new",
        first + 2,
        r2.id.short(),
        human(r2.written.bytes_new_stored)
    );
    repo.load_index()?;
    let o =
        StackRestoreOptions { only: vec![], mode: Mode::InPlace { keep_previous: false }, sources: Default::default() };
    let restored = cairn::stack::restore::restore(&repo, &stack, &r1.snapshot, &o)?;
    let after = (hashes(scripts), super::demo::count_episodes(db)?);
    anyhow::ensure!(after == before, "the in-place restore does not match the first stack snapshot");
    println!(
        "{}. restored the first stack snapshot in place: {} components staged beside the live copies, each verified, then swapped in; the database has {} episodes again and the scripts are byte-exact",
        first + 3,
        restored.len(),
        after.1
    );
    for c in restored.iter().filter(|c| c.next.is_some()) {
        println!("    next for {}: {}", c.name, c.next.as_deref().unwrap_or_default());
    }
    Ok(())
}

//! The whole data stack from one stack file, against the real components:
//! a SQLite database, a ChromaDB directory (the pinned chromadb), a private
//! redis-server and a tree of files. One stack snapshot, every component
//! changed, another; the first restored into a target root equals the
//! stack as it was (rows, Chroma queries, Redis `DEBUG DIGEST`, file
//! hashes). In place: verified and swapped in, and with one component's
//! chunk damaged, every live component byte-identical afterwards. Hooks:
//! order, timeout, failure. Bad stack files: one line naming what is wrong.

mod common;
use common::chroma as ch;
use common::redis::{check_rdb, Server};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// Every row of every table, as text: equal iff the contents are.
fn rows(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables.sort();
    let mut out = Vec::new();
    for t in tables {
        let mut st = c.prepare(&format!("SELECT * FROM \"{t}\" ORDER BY rowid")).unwrap();
        let n = st.column_count();
        let mut q = st.query([]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let vals: Vec<String> = (0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect();
            out.push(format!("{t}|{}", vals.join("|")));
        }
    }
    out
}

/// A Chroma directory's contents and query answers, read from a copy (opening one writes to it).
fn chroma_state(dir: &Path, scratch: &Path) -> serde_json::Value {
    let copy = scratch.join(format!("chroma-copy-{}", rand_suffix()));
    copy_tree(dir, &copy);
    ch::dump(&copy)
}

struct Stack {
    tmp: tempfile::TempDir,
    repo: PathBuf,
    file: PathBuf,
    redis: Server,
}

impl Stack {
    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }
    fn cairn(&self) -> std::process::Command {
        cairn(&self.repo)
    }
}

/// A stack of four components (Chroma only with `chroma`), `extra` TOML
/// appended to the scripts component.
fn stack(chroma: bool, scripts_extra: &str) -> Stack {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fs::create_dir_all(data.join("scripts/ep")).unwrap();
    fs::create_dir_all(data.join("redis")).unwrap();
    appdb::make_app_db(&data.join("projects.db"), 300);
    let mut rng = cairn::sample::Rng::new(5);
    for i in 0..40 {
        let mut b = vec![0u8; 64 * 1024 + i * 100];
        rng.fill(&mut b);
        fs::write(data.join(format!("scripts/ep/{i}.txt")), b).unwrap();
    }
    fs::write(data.join("scripts/draft.tmp"), "scratch").unwrap();
    let redis = Server::start(&data.join("redis"), &[]);
    redis.cli(&["DEBUG", "POPULATE", "3000", "key", "20"]);
    redis.cli(&["HSET", "job:1", "state", "queued"]);
    let mut toml = String::from("repository = \"repo\"\nname = \"app\"\n");
    toml += "[[component]]\nname = \"projects\"\nkind = \"sqlite\"\npath = \"data/projects.db\"\n";
    toml +=
        "[[component.assert]]\nname = \"projects\"\nsql = \"SELECT count(*) > 0 FROM projects\"\nexpected = \"1\"\n";
    if chroma {
        ch::make(&data.join("chroma"), 300, 1);
        toml += "[[component]]\nname = \"vectors\"\nkind = \"chroma\"\npath = \"data/chroma\"\n";
    }
    toml += &format!(
        "[[component]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"{}\"\ndir = \"data/redis\"\n",
        redis.url()
    );
    toml += &format!("[[component]]\nname = \"scripts\"\nkind = \"files\"\npath = \"data/scripts\"\nexclude = [\"*.tmp\"]\n{scripts_extra}");
    let file = tmp.path().join("cairn.toml");
    fs::write(&file, toml).unwrap();
    let repo = tmp.path().join("repo");
    init_small(&repo);
    Stack { tmp, repo, file, redis }
}

fn backup(s: &Stack) -> serde_json::Value {
    let out = ok(s.cairn().arg("backup").arg("--stack").arg(&s.file).arg("--json"));
    serde_json::from_str(&out).unwrap()
}

/// Change every component.
fn change(s: &Stack, chroma: bool) {
    let c = rusqlite::Connection::open(s.data().join("projects.db")).unwrap();
    c.execute_batch("INSERT INTO projects(id, name) VALUES (900, 'new'); DELETE FROM episodes WHERE id % 7 = 0;")
        .unwrap();
    drop(c);
    if chroma {
        ch::change(&s.data().join("chroma"), 20, 10, 5, 2);
    }
    s.redis.cli(&["SET", "key:1", "changed"]);
    s.redis.cli(&["HSET", "job:1", "state", "done"]);
    fs::write(s.data().join("scripts/ep/0.txt"), "rewritten").unwrap();
    fs::write(s.data().join("scripts/new.txt"), "new").unwrap();
}

#[test]
fn whole_stack_round_trips_to_a_target_root() {
    ch::python();
    let s = stack(true, "");
    let (db, scratch) = (s.data().join("projects.db"), s.tmp.path().join("scratch"));
    fs::create_dir_all(&scratch).unwrap();
    let before = (rows(&db), chroma_state(&s.data().join("chroma"), &scratch), s.redis.digest());
    let mut files = digest(&s.data().join("scripts"));
    files.remove(Path::new("draft.tmp"));
    let first_out = ok(s.cairn().arg("backup").arg("--stack").arg(&s.file).arg("--json"));
    let first: serde_json::Value = serde_json::from_str(&first_out).unwrap();
    // Captured in the documented order, each with its time, method and sizes.
    let names: Vec<&str> =
        first["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cache", "projects", "vectors", "scripts"]);
    assert!(first["components"].as_array().unwrap().iter().all(|c| c["bytes"].as_u64().unwrap() > 0));
    change(&s, true);
    let second = backup(&s);
    assert_ne!(first["snapshot_id"], second["snapshot_id"]);

    let out = s.tmp.path().join("out");
    let id = first["snapshot_id"].as_str().unwrap();
    ok(s.cairn().args(["restore", id, "--stack"]).arg(&s.file).arg("--target-root").arg(&out));
    assert_eq!(rows(&out.join("projects/projects.db")), before.0, "SQLite rows differ");
    assert_eq!(ch::dump(&out.join("vectors")), before.1, "Chroma answers differ");
    assert_eq!(digest(&out.join("scripts")), files, "files differ");
    let rdb = out.join("cache/dump.rdb");
    assert!(check_rdb(&rdb));
    let restored = Server::start(&out.join("cache"), &[]);
    assert_eq!(restored.digest(), before.2, "Redis digest differs");

    // `snapshots` shows both with their components; retention sees one series.
    let snaps = snapshots(&s.repo);
    assert_eq!(snaps.len(), 2);
    assert!(snaps
        .iter()
        .all(|x| x["stack"]["name"] == "app" && x["stack"]["components"].as_array().unwrap().len() == 4));
    ok(s.cairn().arg("backup").arg("--stack").arg(&s.file).args(["--only", "cache"]));
    let plan = ok(s.cairn().args(["forget", "--keep-last", "1", "--dry-run", "--json"]));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["groups"].as_array().unwrap().len(), 1, "{plan}");
    // The latest stack snapshot holding `projects` is the second, not the --only one.
    let out2 = s.tmp.path().join("out2");
    let r = ok(s
        .cairn()
        .arg("restore")
        .arg("--stack")
        .arg(&s.file)
        .args(["--only", "projects", "--json", "--target-root"])
        .arg(&out2));
    let listed = ok(s.cairn().args(["snapshots", "--json"]));
    let (seen, missing) = undocumented_json_keys(&[first_out, r.clone(), listed]);
    assert!(seen > 40 && missing.is_empty(), "README's JSON section lacks {missing:?}");
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["snapshot_id"], second["snapshot_id"]);
    assert_eq!(
        common::appdb::query_i64(&out2.join("projects/projects.db"), "SELECT count(*) FROM projects WHERE id = 900"),
        1
    );
}

/// Live state of every component: bytes of each file, the Redis dump.
/// Each component's file digests, by name.
type Live = Vec<(String, std::collections::BTreeMap<PathBuf, (u64, String)>)>;

fn live(s: &Stack) -> Live {
    ["projects.db", "scripts", "redis", "chroma"]
        .iter()
        .map(|p| (p.to_string(), digest(&s.data().join(p))))
        .chain([(
            "data".to_string(),
            digest(&s.data()).into_iter().filter(|(p, _)| p.components().count() == 1).collect(),
        )])
        .collect()
}

fn leftovers(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".cairn-"))
        .collect()
}

#[test]
fn in_place_swaps_verified_components_and_a_damaged_one_changes_nothing() {
    ch::python();
    let s = stack(true, "");
    let db = s.data().join("projects.db");
    let (rows0, files0) = (rows(&db), digest(&s.data().join("scripts/ep")));
    backup(&s);
    s.redis.cli(&["SAVE"]);
    change(&s, true);
    // Success: everything back as it was, the previous copies removed.
    let out = ok(s.cairn().arg("restore").arg("--stack").arg(&s.file).arg("--in-place"));
    assert!(out.contains("next steps"), "{out}");
    assert_eq!(rows(&db), rows0);
    assert_eq!(digest(&s.data().join("scripts/ep")), files0);
    assert!(!s.data().join("scripts/new.txt").exists());
    assert!(check_rdb(&s.data().join("redis/dump.rdb")));
    assert!(leftovers(&s.data()).is_empty(), "{:?}", leftovers(&s.data()));

    // Damage a chunk only the scripts component uses: the restore fails
    // naming it, and no live component changes.
    change(&s, true);
    s.redis.cli(&["SAVE"]);
    let before = live(&s);
    let packs = packs_largest_first(&s.repo);
    let only_scripts = packs.iter().any(|p| {
        let mut b = fs::read(p).unwrap();
        let at = b.len() / 3;
        b[at] ^= 0x10;
        fs::write(p, &b).unwrap();
        let (_, paths) = damaged_paths(&s.repo);
        let good = !paths.is_empty() && paths.iter().all(|p| p.starts_with("scripts/"));
        if !good {
            b[at] ^= 0x10;
            fs::write(p, &b).unwrap();
        }
        good
    });
    assert!(only_scripts, "no pack holds only scripts data");
    let (_, err) = fails(s.cairn().arg("restore").arg("--stack").arg(&s.file).arg("--in-place"));
    one_line(&err);
    assert!(err.contains("component scripts"), "{err}");
    assert_eq!(live(&s), before, "a live component changed");
    assert!(leftovers(&s.data()).is_empty(), "{:?}", leftovers(&s.data()));
}

#[test]
fn hooks_run_in_order_and_a_failing_or_hanging_one_fails_its_component() {
    let log = |s: &Stack| fs::read_to_string(s.tmp.path().join("hooks.log")).unwrap_or_default();
    // Hooks run in cairn's directory (the stack's here).
    let hook = |extra: &str| {
        format!(
            "before = \"echo before $CAIRN_COMPONENT >> hooks.log; touch data/scripts/from-hook.txt{extra}\"\nafter = \"echo after $CAIRN_COMPONENT $CAIRN_RESULT >> hooks.log; rm -f data/scripts/from-hook.txt\"\nhook_timeout = \"1s\"\n"
        )
    };
    let s = stack(false, &hook(""));
    let run_in = |s: &Stack| {
        let mut c = s.cairn();
        c.current_dir(s.tmp.path()).arg("backup").arg("--stack").arg(&s.file);
        c
    };
    ok(&mut run_in(&s));
    assert_eq!(log(&s), "before scripts\nafter scripts ok\n");
    // `before` ran before the capture (its file is in the snapshot), `after` after it.
    let ls = ok(s.cairn().args(["ls", "latest"]));
    assert!(ls.contains("from-hook.txt"), "{ls}");
    assert!(!s.data().join("scripts/from-hook.txt").exists());

    for (extra, want) in [("; exit 7", "exit status: 7"), ("; sleep 30", "timeout")] {
        let s = stack(false, &hook(extra));
        let start = std::time::Instant::now();
        let (_, err) = fails(&mut run_in(&s));
        one_line(&err);
        assert!(err.contains("component scripts") && err.contains(want), "{err}");
        assert!(start.elapsed().as_secs() < 20);
        assert_eq!(log(&s), "before scripts\nafter scripts failed\n", "after must run");
        assert!(snapshots(&s.repo).is_empty(), "a failed stack backup recorded a snapshot");
    }
}

#[test]
fn bad_stack_files_fail_with_one_line_and_record_nothing() {
    let s = stack(false, "");
    let text = fs::read_to_string(&s.file).unwrap();
    let typo = text.replace("kind = \"files\"", "kind = \"files\"\nexlcude = []");
    let line = typo.lines().position(|l| l.starts_with("exlcude")).unwrap() + 1;
    let typo_says = format!("line {line}: unknown field `exlcude`");
    let cases: Vec<(String, &str)> = vec![
        (typo, &typo_says),
        (
            text.replace("name = \"cache\"", "name = \"projects\""),
            "component \"projects\": two components have this name",
        ),
        (text.replace("data/scripts", "data/missing"), "component \"scripts\": cannot read source"),
        (text.replace("kind = \"redis\"", "kind = \"redis-cluster\""), "kind \"redis-cluster\" is unknown"),
        (text.replace("name = \"app\"", "name = \"app\"\n[retention]\nhourly = 0"), "[retention] keeps nothing"),
    ];
    for (toml, want) in cases {
        fs::write(&s.file, &toml).unwrap();
        let (code, err) = fails(s.cairn().arg("backup").arg("--stack").arg(&s.file));
        one_line(&err);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(want), "want {want:?}: {err}");
    }
    // A Redis server that is down: the component is named, nothing recorded.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    fs::write(&s.file, text.replace(&s.redis.url(), &format!("redis://127.0.0.1:{port}"))).unwrap();
    let (_, err) = fails(s.cairn().arg("backup").arg("--stack").arg(&s.file));
    one_line(&err);
    assert!(err.contains("component cache"), "{err}");
    assert!(snapshots(&s.repo).is_empty());
}

#[test]
fn the_example_and_the_minimal_stack_file_parse() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cairn.toml");
    let st = cairn::stack::load(&example).unwrap();
    let names: Vec<&str> = st.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["projects", "vectors", "cache", "scripts"]);
    assert_eq!((st.retention.hourly, st.retention.daily, st.retention.weekly, st.retention.monthly), (24, 30, 12, 12));
    assert_eq!(st.components[0].assertions.len(), 2, "its [[component.assert]] and the [assertions] entry");
    assert!(st.components[1].before.is_some() && st.components[1].after.is_some());
    assert_eq!(st.components[1].hook_timeout.as_secs(), 30);
    // The issue's minimal form, as written: the guide's defaults fill in.
    let minimal = r#"repository = "/backups/cairn"        # or CAIRN_REPOSITORY / --repo
[[component]]
name = "projects"
kind = "sqlite"
path = "/data/projects.db"
[[component]]
name = "vectors"
kind = "chroma"
path = "/data/chroma"
[[component]]
name = "cache"
kind = "redis"
url = "redis://127.0.0.1:6379"
[[component]]
name = "scripts"
kind = "files"
path = "/data/scripts"
exclude = ["*.tmp"]
"#;
    let st = cairn::stack::file::parse(Path::new("/etc/cairn/cairn.toml"), minimal).unwrap();
    let m = |n: u64| Some(std::time::Duration::from_secs(n * 60));
    assert_eq!((st.components[0].rto, st.components[0].rto_partial, st.components[0].rpo), (m(15), m(5), m(360)));
    assert_eq!((st.components[1].rto, st.components[1].rpo), (m(30), m(1440)));
    assert_eq!(st.rto.as_secs(), 3600);
    assert_eq!(st.name, "cairn");
    assert_eq!(st.repository.as_deref(), Some(Path::new("/backups/cairn")));
    // Backup checks the paths before any work: a missing one is named.
    let all: Vec<_> = st.components.iter().collect();
    let e = st.check_sources(&all).unwrap_err().to_string();
    assert!(e.contains("component \"projects\"") && e.contains("/data/projects.db"), "{e}");
}

#[test]
fn the_webhook_hears_of_success_and_failure_and_forget_keeps_to_its_stack() {
    let s = stack(false, "");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let text = fs::read_to_string(&s.file).unwrap();
    fs::write(&s.file, text.replace("name = \"app\"", &format!("name = \"app\"\nwebhook = \"{url}\""))).unwrap();
    let got = std::thread::scope(|sc| {
        let h = sc.spawn(|| common::http::receive_one(&listener));
        ok(s.cairn().arg("backup").arg("--stack").arg(&s.file));
        h.join().unwrap()
    });
    assert_eq!(
        (got["stack"].as_str(), got["event"].as_str(), got["ok"].as_bool()),
        (Some("app"), Some("backup"), Some(true))
    );
    assert_eq!(got["result"]["snapshot_id"].as_str().unwrap().len(), 64);
    // A failed backup is reported too.
    let down = fs::read_to_string(&s.file).unwrap().replace(&s.redis.url(), "redis://127.0.0.1:1");
    fs::write(&s.file, down).unwrap();
    let got = std::thread::scope(|sc| {
        let h = sc.spawn(|| common::http::receive_one(&listener));
        fails(s.cairn().arg("backup").arg("--stack").arg(&s.file));
        h.join().unwrap()
    });
    assert_eq!(got["ok"].as_bool(), Some(false));
    assert!(got["error"].as_str().unwrap().contains("component cache"), "{got}");
    // forget --stack: the stack's retention, on its snapshots only.
    let plain = s.tmp.path().join("plain");
    fs::create_dir_all(&plain).unwrap();
    common::backup(&s.repo, &[&plain]);
    let plan = ok(s.cairn().arg("forget").arg("--stack").arg(&s.file).args(["--dry-run", "--json"]));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let groups = plan["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["sources"][0], "stack app");
    assert_eq!(groups[0]["snapshots"][0]["reasons"][0].as_str().unwrap().split(' ').next(), Some("hourly"), "{plan}");
}

//! Every source kind on a real S3 store (Garage on loopback): files, a
//! SQLite database, a ChromaDB directory (the pinned chromadb), a private
//! redis-server and standard input in one repository, restored and
//! compared; then a stack file whose `repository` is the S3 location,
//! backed up and restored as one stack snapshot; forget, prune and
//! check --read-data over all of it.

mod common;
use common::chroma as ch;
use common::garage::Garage;
use common::redis::{check_rdb, Server};
use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn on(g: &Garage, repo: &str) -> Command {
    let mut c = cairn(Path::new(repo));
    g.env(&mut c);
    c
}

/// A Chroma directory's query answers, read from a copy (opening one writes to it).
fn chroma_state(dir: &Path, scratch: &Path) -> serde_json::Value {
    let copy = scratch.join(format!("chroma-copy-{}", rand_suffix()));
    copy_tree(dir, &copy);
    ch::dump(&copy)
}

#[test]
fn every_source_kind_and_a_stack_round_trip_on_s3() {
    ch::python();
    let g = Garage::start();
    let repo = g.repo("sources");
    let tmp = tempfile::tempdir().unwrap();
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let (files, db, chroma) = (tmp.path().join("scripts"), tmp.path().join("app.db"), tmp.path().join("chroma"));
    cairn::sample::generate(&files, 6, 4).unwrap();
    appdb::make_app_db(&db, 500);
    ch::make(&chroma, 300, 1);
    let redis = Server::start(&tmp.path().join("redis"), &[]);
    redis.cli(&["DEBUG", "POPULATE", "2000", "key", "20"]);
    let before = (digest(&files), chroma_state(&chroma, &scratch), redis.digest());
    ok(on(&g, &repo).arg("init").args(SMALL_CHUNKS).args(FAST_KDF));
    ok(on(&g, &repo)
        .arg("backup")
        .arg(&files)
        .arg(format!("sqlite:{}", db.display()))
        .arg(format!("chroma:{}", chroma.display()))
        .arg(redis.url()));
    let mut child = on(&g, &repo)
        .args(["backup", "--stdin", "--stdin-filename", "dump.sql"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let piped: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    child.stdin.take().unwrap().write_all(&piped).unwrap();
    assert!(child.wait().unwrap().success());

    let out = tmp.path().join("out");
    let first = snapshot_ids(&g, &repo)[0].clone();
    ok(on(&g, &repo).args(["restore", &first, "--target"]).arg(&out));
    assert_eq!(digest(&out.join("scripts")), before.0, "files differ");
    assert_eq!(appdb::query_i64(&out.join("app.db"), "SELECT count(*) FROM episodes"), 500);
    assert_eq!(ch::dump(&out.join("chroma")), before.1, "Chroma answers differ");
    let rdb = out.join(format!("redis-127.0.0.1-{}-0", redis.port)).join("dump.rdb");
    assert!(check_rdb(&rdb), "redis-check-rdb refuses the restored dump");
    let served = Server::start(rdb.parent().unwrap(), &["--dbfilename", "dump.rdb"]);
    assert_eq!(served.digest(), before.2, "Redis digest differs");
    let dumped = ok_bytes(on(&g, &repo).args(["dump", "latest", "dump.sql"]));
    assert_eq!(dumped, piped, "standard input differs");

    // A stack file naming the S3 repository: no --repo needed.
    let stack = tmp.path().join("cairn.toml");
    let toml = format!(
        "repository = \"{repo}\"\nname = \"app\"\n\
         [[component]]\nname = \"projects\"\nkind = \"sqlite\"\npath = \"app.db\"\n\
         [[component]]\nname = \"vectors\"\nkind = \"chroma\"\npath = \"chroma\"\n\
         [[component]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"{}\"\ndir = \"redis\"\n\
         [[component]]\nname = \"scripts\"\nkind = \"files\"\npath = \"scripts\"\n",
        redis.url()
    );
    std::fs::write(&stack, toml).unwrap();
    let bare = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
        c.env_remove("CAIRN_REPOSITORY").env("CAIRN_PASSWORD", PASSWORD);
        g.env(&mut c);
        c
    };
    ok(bare().arg("backup").arg("--stack").arg(&stack));
    let root = tmp.path().join("stack-out");
    ok(bare().args(["restore", "latest", "--stack"]).arg(&stack).arg("--target-root").arg(&root));
    assert_eq!(digest(&root.join("scripts")), before.0);
    assert_eq!(appdb::query_i64(&root.join("projects/app.db"), "SELECT count(*) FROM episodes"), 500);
    assert_eq!(ch::dump(&root.join("vectors")), before.1);
    assert!(check_rdb(&root.join("cache/dump.rdb")));

    ok(on(&g, &repo).args(["forget", "--keep-last", "1", "--prune", "--grace", "0s"]));
    ok(on(&g, &repo).args(["check", "--read-data"]));
    ok(bare().args(["restore", "latest", "--stack"]).arg(&stack).arg("--target-root").arg(tmp.path().join("again")));
    assert_eq!(digest(&tmp.path().join("again/scripts")), before.0);
}

fn snapshot_ids(g: &Garage, repo: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&ok(on(g, repo).args(["snapshots", "--json"]))).unwrap();
    v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

fn ok_bytes(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

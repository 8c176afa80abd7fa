//! A live stack on disk for the integrity and drill tests: a SQLite
//! database of the application's shape, a Chroma-layout directory, a
//! private redis-server and a files tree, and a stack file naming them with
//! the guide's orphan assertion.

use super::redis::Server;
use std::fs;
use std::path::{Path, PathBuf};

/// Write the stack's data under `d` and its stack file `d/cairn.toml`:
/// `head` (top-level keys) first, `extra` ([assertions] entries) last.
pub fn write(d: &Path, head: &str, extra: &str) -> (PathBuf, Server) {
    super::appdb::make_app_db(&d.join("projects.db"), 400);
    cairn::sample::chroma_layout(&d.join("chroma"), 500, 16, 3).unwrap();
    fs::create_dir_all(d.join("scripts")).unwrap();
    fs::create_dir_all(d.join("redis")).unwrap();
    fs::write(d.join("scripts/a.fountain"), "INT. ROOM").unwrap();
    let redis = Server::start(&d.join("redis"), &[]);
    let toml = format!(
        "{head}[[component]]\nname = \"projects\"\nkind = \"sqlite\"\npath = \"projects.db\"\n\
         [[component]]\nname = \"vectors\"\nkind = \"chroma\"\npath = \"chroma\"\n\
         [[component]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"{}\"\ndir = \"redis\"\n\
         [[component]]\nname = \"scripts\"\nkind = \"files\"\npath = \"scripts\"\n\
         [assertions]\norphaned_episodes = {{ sql = \"SELECT COUNT(*) FROM episodes e WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = e.project_id)\", expect = 0 }}\n{extra}",
        redis.url()
    );
    let file = d.join("cairn.toml");
    fs::write(&file, toml).unwrap();
    (file, redis)
}

//! A small database of the application's shape, for the SQLite tests.

use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// The first column of the first row of `sql`, as an integer.
pub fn query_i64(db: &Path, sql: &str) -> i64 {
    let c = Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(60)).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The application's schema in small: projects, episodes with a creation time.
pub fn make_app_db(path: &Path, episodes: usize) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=wal; PRAGMA foreign_keys=on;
         CREATE TABLE projects(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE episodes(id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id),
                               created_at INTEGER NOT NULL, body TEXT);
         CREATE INDEX episodes_project ON episodes(project_id);",
    )
    .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    for p in 0..20 {
        tx.execute("INSERT INTO projects(id, name) VALUES (?1, ?2)", (p, format!("project {p}"))).unwrap();
    }
    for e in 0..episodes {
        // Some incompressible text too, so the repository needs several packs.
        let noise: String =
            (0..40).map(|i| format!("{:08x}", (e * 7919 + i * 104729) as u64 * 2654435761 % 4294967291)).collect();
        let body = format!("INT. WRITERS ROOM - NIGHT. Episode {e}. {} {noise}", "Dialogue and action. ".repeat(20));
        tx.execute(
            "INSERT INTO episodes(project_id, created_at, body) VALUES (?1, ?2, ?3)",
            ((e % 20) as i64, e as i64, body),
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#![allow(dead_code)]
//! The generated application database of the SQLite and prune benchmarks:
//! projects, episodes with script bodies of 2–20 KB of mixed English and
//! Korean prose, two secondary indexes, WAL mode; and one "hour" of
//! activity (0.5% of episodes inserted, 0.5% updated, 0.1% deleted).

use rusqlite::Connection;
use std::path::Path;

pub const WORDS: &[&str] = EN;
const EN: &[&str] = &[
    "the", "writer", "opens", "a", "door", "into", "night", "rain", "and", "she", "says", "nothing", "until",
    "morning", "camera", "pans", "across", "empty", "kitchen", "where", "old", "letters", "wait", "beside", "cold",
    "coffee",
];
const KO: &[&str] = &[
    "그녀는",
    "문을",
    "열고",
    "조용히",
    "들어온다",
    "비가",
    "내리는",
    "밤",
    "작가는",
    "아무",
    "말도",
    "하지",
    "않는다",
    "카메라가",
    "빈",
    "부엌을",
    "비춘다",
    "오래된",
    "편지들이",
    "식은",
    "커피",
    "옆에서",
    "기다린다",
];

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn prose(rng: &mut Rng) -> String {
    let target = 2000 + rng.below(18_000) as usize;
    let mut s = String::with_capacity(target + 32);
    while s.len() < target {
        let words = if rng.below(3) == 0 { KO } else { EN };
        s.push_str(words[rng.below(words.len() as u64) as usize]);
        s.push(if rng.below(12) == 0 { '\n' } else { ' ' });
    }
    s
}

fn insert_episodes(c: &Connection, rng: &mut Rng, n: u64, projects: u64) {
    let mut st = c
        .prepare_cached("INSERT INTO episodes(project_id, number, title, body, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .unwrap();
    for i in 0..n {
        let p = 1 + rng.below(projects) as i64;
        st.execute((p, i as i64, format!("Episode {i}"), prose(rng), rng.next() as i64 >> 20)).unwrap();
    }
}

pub fn generate(db: &Path, mib: u64) {
    let _ = std::fs::remove_file(db);
    let c = Connection::open(db).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=wal; PRAGMA foreign_keys=on;
         CREATE TABLE projects(id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER);
         CREATE TABLE episodes(id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id),
             number INTEGER, title TEXT, body TEXT, updated_at INTEGER);
         CREATE INDEX episodes_project ON episodes(project_id, number);
         CREATE INDEX episodes_updated ON episodes(updated_at);",
    )
    .unwrap();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let projects = 500;
    let tx = c.unchecked_transaction().unwrap();
    for p in 1..=projects {
        tx.execute("INSERT INTO projects VALUES (?1, ?2, ?3)", (p as i64, format!("Project {p}"), p as i64)).unwrap();
    }
    // ~11 KB per episode on average.
    insert_episodes(&tx, &mut rng, mib * 1024 * 1024 / 11_500, projects);
    tx.commit().unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
}

/// One hour of activity: 0.5% inserted, 0.5% updated, 0.1% deleted.
pub fn activity(db: &Path, seed: u64) {
    let c = Connection::open(db).unwrap();
    let n: i64 = c.query_row("SELECT count(*) FROM episodes", [], |r| r.get(0)).unwrap();
    let max: i64 = c.query_row("SELECT max(id) FROM episodes", [], |r| r.get(0)).unwrap();
    let mut rng = Rng(seed | 1);
    let tx = c.unchecked_transaction().unwrap();
    insert_episodes(&tx, &mut rng, n as u64 / 200, 500);
    for _ in 0..n / 200 {
        let id = 1 + rng.below(max as u64) as i64;
        tx.execute(
            "UPDATE episodes SET body = ?1, updated_at = ?2 WHERE id = ?3",
            (prose(&mut rng), rng.next() as i64 >> 20, id),
        )
        .unwrap();
    }
    for _ in 0..n / 1000 {
        tx.execute("DELETE FROM episodes WHERE id = ?1", [1 + rng.below(max as u64) as i64]).unwrap();
    }
    tx.commit().unwrap();
}

//! The alternative capture method, for servers whose replication port a
//! backup may not use (or where the dump file is at hand anyway): `BGSAVE`,
//! then the dump file read once the server's save counter (`rdb_saves` in
//! `INFO persistence`, Redis 7.0+) has advanced past the value it had
//! before, with no save in progress and the last one reported `ok`. A save
//! already running is waited out first, so the file read is one the server
//! began after cairn asked. The file is found by `CONFIG GET dir` and
//! `dbfilename` unless its path is given (a server that renames `CONFIG`).

use super::conn::{field, open, Endpoint};
use super::sync::{Fetched, Transfer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the save counter is polled.
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct Persistence {
    saves: u64,
    in_progress: bool,
    ok: bool,
}

fn persistence(text: &str) -> Result<Persistence, String> {
    let saves = field(text, "rdb_saves")
        .and_then(|v| v.parse().ok())
        .ok_or("the server reports no rdb_saves (Redis before 7.0): use the default replication method")?;
    Ok(Persistence {
        saves,
        in_progress: field(text, "rdb_bgsave_in_progress").as_deref() == Some("1"),
        ok: field(text, "rdb_last_bgsave_status").as_deref() != Some("err"),
    })
}

/// `BGSAVE` on `ep` and the dump it wrote, within `timeout`.
pub fn fetch(ep: &Endpoint, password: Option<&str>, timeout: Duration, dump: Option<&Path>) -> Result<Fetched, String> {
    let (mut c, facts) = open(ep, password, timeout)?;
    let path = match dump {
        Some(p) => p.to_path_buf(),
        None => {
            let mut get = |k: &str| -> Result<String, String> {
                c.send(&[b"CONFIG", b"GET", k.as_bytes()])?;
                let v = c.array().map_err(|e| format!("CONFIG GET {k} failed ({e}): give the dump file's path"))?;
                v.get(1).cloned().ok_or_else(|| format!("CONFIG GET {k} returned nothing: give the dump file's path"))
            };
            PathBuf::from(get("dir")?).join(get("dbfilename")?)
        }
    };
    let wait = |c: &mut super::conn::Conn, done: &dyn Fn(&Persistence) -> bool| -> Result<Persistence, String> {
        loop {
            let p = persistence(&c.info("persistence")?)?;
            if done(&p) {
                return Ok(p);
            }
            if Instant::now() + POLL >= c.deadline {
                return Err("the server's save did not finish within the timeout".into());
            }
            std::thread::sleep(POLL);
        }
    };
    let before = wait(&mut c, &|p| !p.in_progress)?.saves;
    let start = Instant::now();
    c.send(&[b"BGSAVE"])?;
    c.reply().map_err(|e| format!("the server refused BGSAVE: {e}"))?;
    let after = wait(&mut c, &|p| p.saves > before && !p.in_progress)?;
    if !after.ok {
        return Err("the server's BGSAVE failed (rdb_last_bgsave_status:err): see the server's log".into());
    }
    let wait_ms = start.elapsed().as_millis() as u64;
    let rdb = std::fs::read(&path)
        .map_err(|e| format!("cannot read the dump file {}: {e} (cairn needs read access to it)", path.display()))?;
    Ok(Fetched { rdb, facts, transfer: Transfer::Bgsave, wait_ms })
}

#[cfg(test)]
mod tests {
    #[test]
    fn persistence_fields() {
        let p =
            super::persistence("rdb_bgsave_in_progress:1\r\nrdb_saves:4\r\nrdb_last_bgsave_status:err\r\n").unwrap();
        assert_eq!((p.saves, p.in_progress, p.ok), (4, true, false));
        assert!(super::persistence("rdb_bgsave_in_progress:0\r\n").unwrap_err().contains("7.0"));
    }
}

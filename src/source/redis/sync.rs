//! An RDB from a running Redis server over its replication protocol, the
//! way `redis-cli --rdb` takes one: no access to the server's files
//! (format-spec/redis.md "Capture protocol").
//!
//! `AUTH` if a password is given, `INFO` for the facts recorded, then
//! `REPLCONF capa eof` (the server may stream without a length),
//! `REPLCONF rdb-only 1` (7.0+: no replication stream after the RDB; older
//! servers refuse it, which is fine) and `SYNC`. The server answers with
//! keep-alive newlines while it prepares (a diskless master first waits
//! `repl-diskless-sync-delay`, 5 s by default), then either `$<length>`
//! and that many bytes, or `$EOF:<40 bytes>` and the RDB followed by the
//! same 40 bytes. Every read has a deadline.

use super::conn::{open, read_error, Conn, Endpoint, Facts};
use std::io::Read;
use std::time::{Duration, Instant};

/// How the RDB came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Transfer {
    /// `$<length>`: a disk-backed save.
    Length,
    /// `$EOF:<mark>`: streamed by a diskless master.
    EofMark,
    /// Not transferred: `BGSAVE`, then the dump file read (bgsave.rs).
    Bgsave,
}

pub struct Fetched {
    pub rdb: Vec<u8>,
    pub facts: Facts,
    pub transfer: Transfer,
    /// From `SYNC` to the first byte of the RDB: how long the server
    /// prepared it (a fork and save, or the diskless delay).
    pub wait_ms: u64,
}

/// Fetch one RDB from `ep` within `timeout`.
pub fn fetch(ep: &Endpoint, password: Option<&str>, timeout: Duration) -> Result<Fetched, String> {
    let (mut c, facts) = open(ep, password, timeout)?;
    c.send(&[b"REPLCONF", b"capa", b"eof"])?;
    c.reply().map_err(|e| format!("the server refused REPLCONF: {e}"))?;
    c.send(&[b"REPLCONF", b"rdb-only", b"1"])?;
    let _ = c.reply(); // before 7.0: unknown, and the RDB is still sent
    c.send(&[b"SYNC"])?;
    let start = Instant::now();
    // Keep-alive newlines, then the transfer's header.
    let header = loop {
        let l = c.line()?;
        if !l.is_empty() {
            break l;
        }
    };
    let wait_ms = start.elapsed().as_millis() as u64;
    if let Some(e) = header.strip_prefix('-') {
        return Err(format!("the server refused SYNC: {e}"));
    }
    let Some(h) = header.strip_prefix('$') else {
        return Err(format!("unexpected answer to SYNC: {header:?}"));
    };
    let (rdb, transfer) = match h.strip_prefix("EOF:") {
        Some(mark) if mark.len() == 40 => (read_to_mark(&mut c, mark.as_bytes())?, Transfer::EofMark),
        Some(_) => return Err(format!("malformed end mark in {header:?}")),
        None => {
            let n: usize = h.parse().map_err(|_| format!("unexpected answer to SYNC: {header:?}"))?;
            let mut rdb = vec![0u8; n];
            c.arm()?;
            c.r.read_exact(&mut rdb).map_err(|e| format!("{} after 0 of {n} bytes", read_error(e)))?;
            (rdb, Transfer::Length)
        }
    };
    Ok(Fetched { rdb, facts, transfer, wait_ms })
}

/// Read until the stream ends with `mark`; the RDB without it.
fn read_to_mark(c: &mut Conn, mark: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(1 << 20);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        c.arm()?;
        let n = c.r.read(&mut buf).map_err(read_error)?;
        if n == 0 {
            return Err(format!("the connection was cut after {} bytes of the transfer", out.len()));
        }
        out.extend_from_slice(&buf[..n]);
        if out.ends_with(mark) {
            out.truncate(out.len() - mark.len());
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// A peer that answers the handshake, then sends `body` after SYNC and
    /// closes: a transfer cut short fails, one that is whole arrives.
    fn serve(body: &'static [u8]) -> Endpoint {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut w = s;
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap() == 0 {
                    return;
                }
                if line.starts_with('*') {
                    let n: usize = line[1..].trim().parse().unwrap();
                    let mut args = vec![];
                    for _ in 0..n {
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        args.push(line.trim().to_string());
                    }
                    match args[0].as_str() {
                        "INFO" => w.write_all(b"$0\r\n\r\n").unwrap(),
                        "SYNC" => {
                            w.write_all(b"\n\n").unwrap();
                            w.write_all(body).unwrap();
                            return;
                        }
                        _ => w.write_all(b"+OK\r\n").unwrap(),
                    }
                }
            }
        });
        Endpoint { host: "127.0.0.1".into(), port, db: 0, user: None }
    }

    #[test]
    fn cut_and_whole_transfers() {
        let t = Duration::from_secs(10);
        let e = fetch(&serve(b"$100\r\nREDIS0011"), None, t).err().unwrap();
        assert!(e.contains("cut"), "{e}");
        let mark = "0123456789012345678901234567890123456789";
        let cut: &'static [u8] =
            Box::leak(format!("$EOF:{mark}\r\nREDIS0011 and no mark").into_bytes().into_boxed_slice());
        assert!(fetch(&serve(cut), None, t).err().unwrap().contains("cut"));
        let whole: &'static [u8] = Box::leak(format!("$EOF:{mark}\r\nREDIS0011{mark}").into_bytes().into_boxed_slice());
        let f = fetch(&serve(whole), None, t).unwrap();
        assert_eq!((f.rdb.as_slice(), f.transfer), (&b"REDIS0011"[..], Transfer::EofMark));
        let f = fetch(&serve(b"$9\r\nREDIS0011"), None, t).unwrap();
        assert_eq!((f.rdb.as_slice(), f.transfer), (&b"REDIS0011"[..], Transfer::Length));
        let e = fetch(&serve(b"-ERR no SYNC for you\r\n"), None, t).err().unwrap();
        assert!(e.contains("refused SYNC"), "{e}");
    }
}

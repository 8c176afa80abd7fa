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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Where a server is: `redis://[user@]host:port[/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub db: u32,
    pub user: Option<String>,
}

impl Endpoint {
    /// Parse a URL. A password in it is refused: a command line is visible
    /// to every user of the machine (`ps`), so it comes from
    /// `CAIRN_REDIS_PASSWORD` or a file instead.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = match url.split_once("://") {
            Some(("redis", r)) => r,
            Some(("rediss", _)) => {
                return Err(
                    "rediss:// (TLS) is not supported yet: use redis:// over a trusted network or a TLS tunnel".into()
                )
            }
            _ => return Err(format!("{url:?} is not a redis://host:port URL")),
        };
        let (auth, hostpart) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let user = match auth {
            Some(a) if a.contains(':') => return Err(
                "a password in the URL would be visible in `ps`: set CAIRN_REDIS_PASSWORD or use --redis-password-file"
                    .into(),
            ),
            Some(a) if !a.is_empty() => Some(a.to_string()),
            _ => None,
        };
        let (hostport, db) = match hostpart.split_once('/') {
            Some((h, "")) => (h, 0),
            Some((h, d)) => (h, d.parse().map_err(|_| format!("database {d:?} is not a number"))?),
            None => (hostpart, 0),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("port {p:?} is not a number"))?),
            None => (hostport, 6379),
        };
        if host.is_empty() {
            return Err(format!("{url:?} names no host"));
        }
        Ok(Endpoint { host: host.trim_matches(['[', ']']).to_string(), port, db, user })
    }

    /// The URL as recorded: never a password.
    pub fn url(&self) -> String {
        let user = self.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        format!("redis://{user}{}:{}/{}", self.host, self.port, self.db)
    }
}

/// What the server said about itself before the transfer.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub server_version: String,
    /// (database, keys, keys with a TTL) from `INFO keyspace`.
    pub keyspace: Vec<(u32, u64, u64)>,
    pub repl_offset: i64,
}

/// How the RDB came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Transfer {
    /// `$<length>`: a disk-backed save.
    Length,
    /// `$EOF:<mark>`: streamed by a diskless master.
    EofMark,
}

pub struct Fetched {
    pub rdb: Vec<u8>,
    pub facts: Facts,
    pub transfer: Transfer,
    /// From `SYNC` to the first byte of the RDB: how long the server
    /// prepared it (a fork and save, or the diskless delay).
    pub wait_ms: u64,
}

struct Conn {
    r: BufReader<TcpStream>,
    deadline: Instant,
}

impl Conn {
    fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
        self.r.get_mut().write_all(&b).map_err(|e| format!("cannot write to the server: {e}"))
    }

    fn arm(&mut self) -> Result<(), String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the server did not finish within the timeout".into());
        }
        self.r.get_mut().set_read_timeout(Some(left)).map_err(|e| e.to_string())
    }

    /// One reply line without its CRLF.
    fn line(&mut self) -> Result<String, String> {
        self.arm()?;
        let mut l = String::new();
        match self.r.read_line(&mut l) {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(_) => Ok(l.trim_end_matches(['\r', '\n']).to_string()),
            Err(e) => Err(read_error(e)),
        }
    }

    /// A simple or bulk reply as text; an error reply as Err.
    fn reply(&mut self) -> Result<String, String> {
        let l = self.line()?;
        match l.as_bytes().first() {
            Some(b'+') | Some(b':') => Ok(l[1..].to_string()),
            Some(b'-') => Err(l[1..].to_string()),
            Some(b'$') => {
                let n: i64 = l[1..].parse().map_err(|_| format!("unexpected reply {l:?}"))?;
                if n < 0 {
                    return Ok(String::new());
                }
                let mut b = vec![0u8; n as usize + 2];
                self.arm()?;
                self.r.read_exact(&mut b).map_err(read_error)?;
                b.truncate(n as usize);
                Ok(String::from_utf8_lossy(&b).into_owned())
            }
            _ => Err(format!("unexpected reply {l:?}")),
        }
    }
}

fn read_error(e: std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            "the server did not answer within the timeout".into()
        }
        std::io::ErrorKind::UnexpectedEof => "the connection was cut in the middle of the transfer".into(),
        _ => format!("reading from the server failed: {e}"),
    }
}

/// Fetch one RDB from `ep` within `timeout`.
pub fn fetch(ep: &Endpoint, password: Option<&str>, timeout: Duration) -> Result<Fetched, String> {
    let addr = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", ep.host))?
        .next()
        .ok_or_else(|| format!("{} has no address", ep.host))?;
    let s = TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(10)))
        .map_err(|e| format!("cannot connect: {e} (is the server running?)"))?;
    let mut c = Conn { r: BufReader::with_capacity(1 << 20, s), deadline: Instant::now() + timeout };
    if let Some(pw) = password {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = &ep.user {
            args.push(u.as_bytes());
        }
        args.push(pw.as_bytes());
        c.send(&args)?;
        c.reply().map_err(|e| format!("the server refused the password: {e}"))?;
    }
    let mut info = |section: &[u8]| -> Result<String, String> {
        c.send(&[b"INFO", section])?;
        c.reply().map_err(|e| {
            if e.starts_with("NOAUTH") {
                "the server asks for a password: set CAIRN_REDIS_PASSWORD or use --redis-password-file".to_string()
            } else {
                format!("INFO failed: {e}")
            }
        })
    };
    let facts = parse_info(&info(b"server")?, &info(b"keyspace")?, &info(b"replication")?);
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

/// The facts from three `INFO` sections.
fn parse_info(server: &str, keyspace: &str, replication: &str) -> Facts {
    let field = |text: &str, key: &str| {
        text.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_string()))
    };
    let mut f = Facts {
        server_version: field(server, "redis_version").unwrap_or_default(),
        repl_offset: field(replication, "master_repl_offset").and_then(|v| v.parse().ok()).unwrap_or(0),
        keyspace: vec![],
    };
    for l in keyspace.lines() {
        // db0:keys=100000,expires=500,avg_ttl=0
        let Some((db, rest)) = l.trim().strip_prefix("db").and_then(|r| r.split_once(':')) else { continue };
        let num =
            |k: &str| rest.split(',').find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('='))?.parse().ok());
        if let (Ok(db), Some(keys)) = (db.parse(), num("keys")) {
            f.keyspace.push((db, keys, num("expires").unwrap_or(0)));
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::parse("redis://127.0.0.1:6390/2").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.db, e.user.as_deref()), ("127.0.0.1", 6390, 2, None));
        assert_eq!(e.url(), "redis://127.0.0.1:6390/2");
        assert_eq!(Endpoint::parse("redis://app@cache").unwrap().url(), "redis://app@cache:6379/0");
        assert!(Endpoint::parse("redis://u:secret@h:1").unwrap_err().contains("ps"));
        assert!(Endpoint::parse("rediss://h:1").unwrap_err().contains("TLS"));
        assert!(Endpoint::parse("redis://h:port").is_err());
        assert!(Endpoint::parse("http://h").is_err());
    }

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

    #[test]
    fn info_parsing() {
        let f = parse_info(
            "# Server\r\nredis_version:7.0.15\r\n",
            "# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=5\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n",
            "master_repl_offset:1234\r\n",
        );
        assert_eq!((f.server_version.as_str(), f.repl_offset), ("7.0.15", 1234));
        assert_eq!(f.keyspace, vec![(0, 10, 2), (3, 1, 0)]);
    }
}

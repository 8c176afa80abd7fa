//! A connection to a Redis server (RESP2): the endpoint a URL names, the
//! commands and replies the capture methods need, each read bounded by one
//! deadline, and the facts `INFO` gives about the server.

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

pub struct Conn {
    pub r: BufReader<TcpStream>,
    pub deadline: Instant,
}

impl Conn {
    pub fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
        self.r.get_mut().write_all(&b).map_err(|e| format!("cannot write to the server: {e}"))
    }

    pub fn arm(&mut self) -> Result<(), String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the server did not finish within the timeout".into());
        }
        self.r.get_mut().set_read_timeout(Some(left)).map_err(|e| e.to_string())
    }

    /// One reply line without its CRLF.
    pub fn line(&mut self) -> Result<String, String> {
        self.arm()?;
        let mut l = String::new();
        match self.r.read_line(&mut l) {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(_) => Ok(l.trim_end_matches(['\r', '\n']).to_string()),
            Err(e) => Err(read_error(e)),
        }
    }

    /// A simple or bulk reply as text; an error reply as Err.
    pub fn reply(&mut self) -> Result<String, String> {
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

impl Conn {
    /// An array reply of bulk strings (`CONFIG GET`); an error reply as Err.
    pub fn array(&mut self) -> Result<Vec<String>, String> {
        let l = self.line()?;
        match l.as_bytes().first() {
            Some(b'*') => {
                let n: i64 = l[1..].parse().map_err(|_| format!("unexpected reply {l:?}"))?;
                (0..n.max(0)).map(|_| self.reply()).collect()
            }
            Some(b'-') => Err(l[1..].to_string()),
            _ => Err(format!("unexpected reply {l:?}")),
        }
    }

    /// One `INFO` section's text.
    pub fn info(&mut self, section: &str) -> Result<String, String> {
        self.send(&[b"INFO", section.as_bytes()])?;
        self.reply().map_err(|e| {
            if e.starts_with("NOAUTH") {
                "the server asks for a password: set CAIRN_REDIS_PASSWORD or use --redis-password-file".to_string()
            } else {
                format!("INFO failed: {e}")
            }
        })
    }
}

/// The value of `key` in `INFO` text.
pub fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_string()))
}

pub fn read_error(e: std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            "the server did not answer within the timeout".into()
        }
        std::io::ErrorKind::UnexpectedEof => "the connection was cut in the middle of the transfer".into(),
        _ => format!("reading from the server failed: {e}"),
    }
}

/// Connect to `ep`, authenticate if a password is given, and read the
/// facts recorded; every later read shares the one `timeout`.
pub fn open(ep: &Endpoint, password: Option<&str>, timeout: Duration) -> Result<(Conn, Facts), String> {
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
    let facts = parse_info(&c.info("server")?, &c.info("keyspace")?, &c.info("replication")?);
    Ok((c, facts))
}

/// The facts from three `INFO` sections.
fn parse_info(server: &str, keyspace: &str, replication: &str) -> Facts {
    let mut f = Facts {
        server_version: field(server, "redis_version").unwrap_or_default(),
        repl_offset: field(replication, "master_repl_offset").and_then(|v| v.parse().ok()).unwrap_or(0),
        keyspace: vec![],
    };
    f.keyspace = parse_keyspace(keyspace);
    f
}

/// (database, keys, keys with a TTL) from `INFO keyspace`.
pub fn parse_keyspace(keyspace: &str) -> Vec<(u32, u64, u64)> {
    let mut out = Vec::new();
    for l in keyspace.lines() {
        // db0:keys=100000,expires=500,avg_ttl=0
        let Some((db, rest)) = l.trim().strip_prefix("db").and_then(|r| r.split_once(':')) else { continue };
        let num =
            |k: &str| rest.split(',').find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('='))?.parse().ok());
        if let (Ok(db), Some(keys)) = (db.parse(), num("keys")) {
            out.push((db, keys, num("expires").unwrap_or(0)));
        }
    }
    out
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

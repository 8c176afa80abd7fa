//! `restore --redis-target URL`: a snapshot's RDB loaded into a running
//! server key by key with `RESTORE key ttl payload ABSTTL [REPLACE]
//! [IDLETIME s] [FREQ f]` (and `FUNCTION LOAD` for function libraries),
//! pipelined 512 commands at a time. A server that holds keys is refused
//! unless overwriting is allowed (then `REPLACE`). Keys whose expiry has
//! passed are not sent. Afterwards `INFO keyspace` must show every key
//! loaded (keys that expire within the minute may be gone already).

use super::conn::{open, Endpoint};
use super::entries;
use std::time::Duration;

/// Where to load, and how.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub url: String,
    pub password: Option<String>,
    pub timeout: Duration,
}

/// What was loaded.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Loaded {
    pub keys: u64,
    /// Keys not sent: their expiry had passed.
    pub expired: u64,
    pub functions: u64,
    /// Keys the server holds afterwards.
    pub server_keys: u64,
}

/// How many commands are sent before their replies are read.
const BATCH: usize = 512;

/// Load `rdb` (checked, of RDB `version`) into the server at `o.url`.
pub fn load(rdb: &[u8], version: u32, o: &LoadOptions, overwrite: bool) -> Result<Loaded, String> {
    let e = entries::split(rdb, version)?;
    let ep = Endpoint::parse(&o.url)?;
    let (mut c, facts) = open(&ep, o.password.as_deref(), o.timeout)?;
    let held: u64 = facts.keyspace.iter().map(|k| k.1).sum();
    if held > 0 && !overwrite {
        return Err(format!(
            "the server holds {held} keys: load into an empty server, or allow replacing its keys with --overwrite"
        ));
    }
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let mut loaded = Loaded::default();
    let mut pending: Vec<String> = Vec::new();
    let flush = |c: &mut super::conn::Conn, pending: &mut Vec<String>| -> Result<(), String> {
        for what in pending.drain(..) {
            c.reply().map_err(|err| format!("{what} failed: {err}; the keys loaded before it stay on the server"))?;
        }
        Ok(())
    };
    for f in &e.functions {
        let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"LOAD"];
        if overwrite {
            args.push(b"REPLACE");
        }
        args.push(f);
        c.send(&args)?;
        pending.push("FUNCTION LOAD".into());
        loaded.functions += 1;
    }
    let mut db = None;
    let mut soon = 0;
    for k in &e.keys {
        if k.expire_ms.is_some_and(|t| t <= now_ms) {
            loaded.expired += 1;
            continue;
        }
        if k.expire_ms.is_some_and(|t| t <= now_ms + 60_000) {
            soon += 1;
        }
        if db != Some(k.db) {
            c.send(&[b"SELECT", k.db.to_string().as_bytes()])?;
            pending.push(format!("SELECT {}", k.db));
            db = Some(k.db);
        }
        let ttl = k.expire_ms.unwrap_or(0).to_string();
        let (idle, freq) = (k.idle.map(|v| v.to_string()), k.freq.map(|v| v.to_string()));
        let mut args: Vec<&[u8]> = vec![b"RESTORE", &k.key, ttl.as_bytes(), &k.payload, b"ABSTTL"];
        if overwrite {
            args.push(b"REPLACE");
        }
        if let Some(i) = &idle {
            args.extend([&b"IDLETIME"[..], i.as_bytes()]);
        }
        if let Some(f) = &freq {
            args.extend([&b"FREQ"[..], f.as_bytes()]);
        }
        c.send(&args)?;
        pending.push(format!("RESTORE of key {:?}", String::from_utf8_lossy(&k.key)));
        loaded.keys += 1;
        if pending.len() >= BATCH {
            flush(&mut c, &mut pending)?;
        }
    }
    flush(&mut c, &mut pending)?;
    let after = super::conn::parse_keyspace(&c.info("keyspace")?);
    loaded.server_keys = after.iter().map(|k| k.1).sum();
    let want_min = if overwrite { 0 } else { loaded.keys - soon };
    if loaded.server_keys < want_min || (!overwrite && loaded.server_keys > loaded.keys) {
        return Err(format!(
            "the server holds {} keys after loading {}: another client wrote to it meanwhile?",
            loaded.server_keys, loaded.keys
        ));
    }
    Ok(loaded)
}

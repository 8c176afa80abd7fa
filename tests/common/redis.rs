//! Private redis-server processes for tests, on loopback ports, stopped on
//! drop. A missing `redis-server` fails the test with one line naming the
//! setup command, never a silent skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// A server with its data in `dir` (loading `dir/dump.rdb` if there),
    /// no saving, no AOF, DEBUG allowed locally, the RDB streamed at once
    /// (`repl-diskless-sync-delay 0`); `extra` arguments appended.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let found = Command::new("redis-server").arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(
            found,
            "redis-server is not installed for the tests: run ./scripts/test, which installs it and runs the suite"
        );
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "local", "--repl-diskless-sync-delay", "0", "--dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server { port, child };
        let until = Instant::now() + Duration::from_secs(20);
        // A server with a password answers NOAUTH: up too.
        while !matches!(s.cli(&["PING"]).trim(), "PONG") && !s.cli(&["PING"]).contains("NOAUTH") {
            assert!(Instant::now() < until, "redis-server on port {port} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// `redis-cli` against this server; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let o = Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Feed commands (one per line, inline syntax) through `redis-cli --pipe`.
    pub fn pipe(&self, commands: &str) {
        let mut c = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--pipe"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(commands.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success());
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn digest(&self) -> String {
        self.cli(&["DEBUG", "DIGEST"]).trim().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `redis-check-rdb` on `rdb`: true if it accepts the file.
pub fn check_rdb(rdb: &PathBuf) -> bool {
    Command::new("redis-check-rdb").arg(rdb).output().is_ok_and(|o| o.status.success())
}

/// A writer on `port` until `stop`: transaction n sets `seq:n` and `last`
/// to n (`MULTI` … `EXEC`), so any point-in-time image holds exactly
/// `seq:0..=last`. Returns how many it committed.
pub fn writer(port: u16, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> std::thread::JoinHandle<u64> {
    use std::io::{BufRead, BufReader, Write};
    std::thread::spawn(move || {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let cmd = |parts: &[&str]| {
            let mut b = format!("*{}\r\n", parts.len());
            for p in parts {
                b.push_str(&format!("${}\r\n{p}\r\n", p.len()));
            }
            b
        };
        let mut n = 0u64;
        let mut line = String::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let v = n.to_string();
            let key = format!("seq:{n}");
            let batch = [cmd(&["MULTI"]), cmd(&["SET", &key, &v]), cmd(&["SET", "last", &v]), cmd(&["EXEC"])].concat();
            w.write_all(batch.as_bytes()).unwrap();
            // +OK, +QUEUED, +QUEUED, *2, +OK, +OK
            for _ in 0..6 {
                line.clear();
                r.read_line(&mut line).unwrap();
                assert!(!line.starts_with('-'), "writer: {line}");
            }
            n += 1;
        }
        n
    })
}

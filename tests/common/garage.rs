//! A private Garage server (a real S3-compatible distributed store) on
//! loopback ports for the S3 tests: one node, replication factor 1, a
//! bucket and a key made with its own CLI. `./scripts/test` installs the
//! binary (`cargo install garage`) when it is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Garage {
    child: Child,
    dir: tempfile::TempDir,
    pub endpoint: String,
    pub key_id: String,
    pub secret: String,
    pub bucket: String,
}

/// `$GARAGE_BIN`, else where `cargo install` puts it.
fn binary() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".cargo"));
    let p = std::env::var_os("GARAGE_BIN").map(PathBuf::from).unwrap_or_else(|| cargo_home.join("bin/garage"));
    assert!(p.exists(), "garage is missing ({}): run ./scripts/test (it installs it with cargo)", p.display());
    p
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Garage {
    fn cli(&self) -> Command {
        let mut c = Command::new(binary());
        c.arg("-c").arg(self.dir.path().join("garage.toml"));
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cli().args(args).output().unwrap();
        assert!(out.status.success(), "garage {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn start() -> Garage {
        let dir = tempfile::tempdir().unwrap();
        let (s3, rpc, admin) = (port(), port(), port());
        let mut secret = [0u8; 32];
        cairn::sample::Rng::new(s3 as u64).fill(&mut secret);
        let config = format!(
            "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\nreplication_factor = 1\n\
             rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{sec}\"\n\
             [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
             [admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n",
            d = dir.path().display(),
            sec = hex::encode(secret),
        );
        std::fs::write(dir.path().join("garage.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("garage.log")).unwrap();
        let child = Command::new(binary())
            .arg("-c")
            .arg(dir.path().join("garage.toml"))
            .arg("server")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut g = Garage {
            child,
            dir,
            endpoint: format!("http://127.0.0.1:{s3}"),
            key_id: String::new(),
            secret: String::new(),
            bucket: "cairn".into(),
        };
        let start = Instant::now();
        while !g.cli().arg("status").output().is_ok_and(|o| o.status.success()) {
            assert!(start.elapsed() < Duration::from_secs(30), "garage never answered: {}", g.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        let id = g.run(&["node", "id", "-q"]);
        let id = id.trim().split('@').next().unwrap().to_string();
        g.run(&["layout", "assign", "-z", "dc1", "-c", "1G", &id]);
        g.run(&["layout", "apply", "--version", "1"]);
        let key: serde_json::Value =
            serde_json::from_str(&g.run(&["json-api", "CreateKey", "{\"name\":\"cairn\"}"])).unwrap();
        g.key_id = key["accessKeyId"].as_str().unwrap().to_string();
        g.secret = key["secretAccessKey"].as_str().unwrap().to_string();
        g.run(&["bucket", "create", "cairn"]);
        g.run(&["bucket", "allow", "--read", "--write", "--owner", "cairn", "--key", &g.key_id.clone()]);
        g
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default()
    }

    /// `--repo` for a repository under `prefix` in the bucket.
    pub fn repo(&self, prefix: &str) -> String {
        format!("s3:{}/{}/{prefix}", self.endpoint, self.bucket)
    }

    /// Set the credentials on a command.
    pub fn env<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        c.env("AWS_ACCESS_KEY_ID", &self.key_id).env("AWS_SECRET_ACCESS_KEY", &self.secret).env("AWS_REGION", "garage")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

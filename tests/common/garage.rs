//! Private Garage servers (a real S3-compatible distributed store) on
//! loopback ports for the S3 tests: one node (replication factor 1) or a
//! cluster of three (replication factor 3, one zone each), a bucket and a
//! key made with its own CLI; nodes can be killed and started again on the
//! same ports and data. Requests are counted by Garage itself (its
//! `/metrics`, `api_s3_request_counter` per S3 operation), so the counts
//! do not depend on cairn's word. `./scripts/test` installs the binary
//! (`cargo install garage`) when it is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Node {
    child: Option<Child>,
    dir: PathBuf,
    admin: u16,
}

pub struct Garage {
    nodes: Vec<Node>,
    root: tempfile::TempDir,
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
    fn cli(&self, node: usize) -> Command {
        let mut c = Command::new(binary());
        c.arg("-c").arg(self.nodes[node].dir.join("garage.toml"));
        c
    }

    fn run_on(&self, node: usize, args: &[&str]) -> String {
        let out = self.cli(node).args(args).output().unwrap();
        assert!(out.status.success(), "garage {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn run(&self, args: &[&str]) -> String {
        self.run_on(0, args)
    }

    /// One node, replication factor 1.
    pub fn start() -> Garage {
        Garage::cluster(1)
    }

    /// `n` nodes on loopback with replication factor `n`; S3 on node 0.
    pub fn cluster(n: usize) -> Garage {
        let root = tempfile::tempdir().unwrap();
        let mut secret = [0u8; 32];
        cairn::sample::Rng::new(port() as u64).fill(&mut secret);
        let mut nodes = vec![];
        let mut endpoint = String::new();
        for i in 0..n {
            let dir = root.path().join(format!("node{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let (s3, rpc, admin) = (port(), port(), port());
            if i == 0 {
                endpoint = format!("http://127.0.0.1:{s3}");
            }
            let config = format!(
                "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\nreplication_factor = {n}\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{sec}\"\n\
                 [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
                 [admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n",
                d = dir.display(),
                sec = hex::encode(secret),
            );
            std::fs::write(dir.join("garage.toml"), config).unwrap();
            nodes.push(Node { child: None, dir, admin });
        }
        let mut g =
            Garage { nodes, root, endpoint, key_id: String::new(), secret: String::new(), bucket: "cairn".into() };
        for i in 0..n {
            g.start_node(i);
        }
        let ids: Vec<String> = (0..n).map(|i| g.run_on(i, &["node", "id", "-q"]).trim().to_string()).collect();
        for id in &ids[1..] {
            g.run(&["node", "connect", id]);
        }
        for (i, id) in ids.iter().enumerate() {
            let short = id.split('@').next().unwrap();
            g.run(&["layout", "assign", "-z", &format!("dc{i}"), "-c", "1G", short]);
        }
        g.run(&["layout", "apply", "--version", "1"]);
        let key: serde_json::Value =
            serde_json::from_str(&g.run(&["json-api", "CreateKey", "{\"name\":\"cairn\"}"])).unwrap();
        g.key_id = key["accessKeyId"].as_str().unwrap().to_string();
        g.secret = key["secretAccessKey"].as_str().unwrap().to_string();
        g.run(&["bucket", "create", "cairn"]);
        g.run(&["bucket", "allow", "--read", "--write", "--owner", "cairn", "--key", &g.key_id.clone()]);
        g
    }

    /// Start node `i` (again, on its ports and data) and wait until it answers.
    pub fn start_node(&mut self, i: usize) {
        let dir = self.nodes[i].dir.clone();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("garage.log")).unwrap();
        let child = Command::new(binary())
            .arg("-c")
            .arg(dir.join("garage.toml"))
            .arg("server")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.nodes[i].child = Some(child);
        let start = Instant::now();
        while !self.cli(i).arg("status").output().is_ok_and(|o| o.status.success()) {
            assert!(start.elapsed() < Duration::from_secs(30), "garage node {i} never answered: {}", self.log(i));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILL node `i`: as a crashed machine, nothing flushed on the way out.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].dir.join("garage.log")).unwrap_or_default()
    }

    /// S3 requests node 0 has answered so far, by operation (`PutObject`,
    /// `GetObject`, `ListObjectsV2`, `HeadObject`, `DeleteObject`, …).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        let url = format!("http://127.0.0.1:{}/metrics", self.nodes[0].admin);
        let body = ureq::get(&url).call().unwrap().into_body().read_to_string().unwrap();
        let mut out = BTreeMap::new();
        for line in body.lines().filter(|l| l.starts_with("api_s3_request_counter{")) {
            let Some(op) = line.split("api_endpoint=\"").nth(1).and_then(|r| r.split('"').next()) else { continue };
            let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            *out.entry(op.to_string()).or_default() += n as u64;
        }
        out
    }

    /// `--repo` for a repository under `prefix` in the bucket.
    pub fn repo(&self, prefix: &str) -> String {
        format!("s3:{}/{}/{prefix}", self.endpoint, self.bucket)
    }

    /// Set the credentials, and a private metadata cache, on a command.
    pub fn env<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        c.env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_REGION", "garage")
            .env("CAIRN_CACHE_DIR", self.root.path().join("cache"))
    }

    /// Where this server's files are (node directories, the cache).
    pub fn path(&self) -> &Path {
        self.root.path()
    }
}

/// Requests made between two counts, by operation.
pub fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after.iter().map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0))).filter(|(_, v)| *v > 0).collect()
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill_node(i);
        }
    }
}

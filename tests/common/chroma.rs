//! The real ChromaDB for tests: the pinned `chromadb` package in the
//! virtual environment `scripts/test` creates (or `CAIRN_TEST_PYTHON`), and
//! `tests/chroma/tool.py` driving it. A missing package fails the test with
//! one line naming the setup command, never a silent skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The version the tests (and format-spec's measurements) are pinned to.
pub const CHROMADB: &str = "1.5.9";

/// The Python that has chromadb, checked once.
pub fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let p = std::env::var_os("CAIRN_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-env/venv/bin/python")
        });
        let out = Command::new(&p).args(["-c", "import chromadb; print(chromadb.__version__)"]).output();
        match out {
            Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == CHROMADB => p,
            _ => panic!(
                "chromadb {CHROMADB} is not installed for the tests ({} lacks it): run ./scripts/test, which installs it and runs the suite",
                p.display()
            ),
        }
    })
}

fn tool() -> Command {
    let mut c = Command::new(python());
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chroma/tool.py"));
    c.env("ANONYMIZED_TELEMETRY", "False").env("HF_HUB_OFFLINE", "1");
    c
}

/// Run the tool; its standard output.
pub fn run(args: &[&str]) -> String {
    run_on("scripts", args)
}

/// Run the tool on another collection.
pub fn run_on(collection: &str, args: &[&str]) -> String {
    let mut c = tool();
    c.env("CHROMA_COLLECTION", collection);
    let out = c.args(args).stderr(Stdio::inherit()).output().expect("start python");
    assert!(out.status.success(), "tool.py {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

pub fn make(dir: &Path, n: usize, seed: u64) {
    run(&["make", &dir.to_string_lossy(), &n.to_string(), &seed.to_string()]);
}

pub fn change(dir: &Path, add: usize, update: usize, delete: usize, seed: u64) {
    let d = dir.to_string_lossy();
    run(&["change", &d, &add.to_string(), &update.to_string(), &delete.to_string(), &seed.to_string()]);
}

/// Count, `get()` contents and fixed queries, as JSON. Opening a directory
/// writes to it, so dump a copy when the original must stay as it is.
pub fn dump(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&run(&["dump", &dir.to_string_lossy()])).unwrap()
}

/// Count, ids, ids without metadata, rows of `embeddings`.
pub fn ids(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&run(&["ids", &dir.to_string_lossy()])).unwrap()
}

/// A writer that adds, updates and deletes until `stop` exists.
pub fn writer(dir: &Path, log: &Path, stop: &Path) -> std::process::Child {
    tool().args(["writer"]).arg(dir).arg(log).arg(stop).spawn().expect("start the writer")
}

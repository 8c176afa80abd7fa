//! A generated sample data set shaped like the protected application's
//! (script text files, an embeddings directory, a database-like file), and a
//! byte-exact tree comparison. Used by `cairn demo`, the tests and benches.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// A small deterministic PRNG (xorshift64*), so data sets are reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

const WORDS: &[&str] = &[
    "the",
    "scene",
    "opens",
    "on",
    "a",
    "quiet",
    "harbour",
    "at",
    "dawn",
    "MARA",
    "walks",
    "towards",
    "lighthouse",
    "JONAS",
    "(V.O.)",
    "we",
    "never",
    "should",
    "have",
    "come",
    "back",
    "here",
    "INT.",
    "EXT.",
    "KITCHEN",
    "NIGHT",
    "she",
    "looks",
    "at",
    "him",
    "and",
    "laughs",
    "CUT",
    "TO:",
    "episode",
    "storm",
    "letters",
    "drawer",
    "silence",
];

/// Text that compresses like a real script (about 3-4x with zstd).
pub fn script_text(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 64);
    while out.len() < bytes {
        let n = 4 + rng.below(12);
        for i in 0..n {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        }
        out.extend_from_slice(if rng.below(4) == 0 { b"\n\n" } else { b".\n" });
    }
    out.truncate(bytes);
    out
}

/// Write the sample tree under `root`, about `mib` MiB in total.
pub fn generate(root: &Path, mib: usize, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let scripts = root.join("scripts");
    let chroma = root.join("chroma");
    fs::create_dir_all(&scripts)?;
    fs::create_dir_all(chroma.join("segments"))?;
    let total = mib << 20;
    // 40% script text in many small files, 40% embeddings, 20% database pages.
    let mut written = 0;
    let mut i = 0;
    while written < total * 4 / 10 {
        let size = 2048 + rng.below(60_000) as usize;
        let dir = scripts.join(format!("project-{:02}", i % 16));
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("episode-{i:04}.fountain")), script_text(&mut rng, size))?;
        written += size;
        i += 1;
    }
    let mut emb = vec![0u8; (total / 10) & !3];
    for seg in 0..4 {
        // Float-like data: random mantissas, shared exponents (compresses a little).
        rng.fill(&mut emb);
        for c in emb.chunks_exact_mut(4) {
            c[3] = 0x3e + (c[3] & 1);
        }
        fs::write(chroma.join("segments").join(format!("seg-{seg}.bin")), &emb)?;
    }
    let mut db = fs::File::create(root.join("app.db"))?;
    let mut page = vec![0u8; 4096];
    for p in 0..(total / 5 / 4096) {
        page[..4096 / 2].copy_from_slice(&script_text(&mut rng, 2048));
        page[2048..2056].copy_from_slice(&(p as u64).to_le_bytes());
        db.write_all(&page)?;
    }
    std::os::unix::fs::symlink("scripts/project-00", root.join("latest-project"))?;
    fs::set_permissions(root.join("app.db"), fs::Permissions::from_mode(0o640))?;
    Ok(())
}

/// A small change: edit one script, append to the database, add a file.
pub fn modify(root: &Path, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng::new(seed ^ 0xfeed);
    let ep = root.join("scripts/project-01/episode-0001.fountain");
    let mut text = fs::read(&ep)?;
    let at = text.len() / 2;
    text.splice(at..at, b"\nMARA (new line written today)\n".iter().copied());
    fs::write(&ep, text)?;
    let mut db = fs::OpenOptions::new().append(true).open(root.join("app.db"))?;
    db.write_all(&script_text(&mut rng, 64 << 10))?;
    fs::write(root.join("scripts/notes-new.txt"), script_text(&mut rng, 10_000))?;
    Ok(())
}

/// Compare two trees: same entries, contents, modes, mtimes and symlink
/// targets. Returns the number of regular files compared.
pub fn compare_trees(a: &Path, b: &Path) -> Result<u64, String> {
    let list = |root: &Path| -> Result<Vec<walkdir::DirEntry>, String> {
        walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .min_depth(1)
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())
    };
    let (la, lb) = (list(a)?, list(b)?);
    let names = |l: &[walkdir::DirEntry], r: &Path| -> Vec<std::path::PathBuf> {
        l.iter().map(|e| e.path().strip_prefix(r).unwrap().to_path_buf()).collect()
    };
    if names(&la, a) != names(&lb, b) {
        return Err(format!("entries differ: {:?} vs {:?}", names(&la, a), names(&lb, b)));
    }
    let mut files = 0;
    for (ea, eb) in la.iter().zip(&lb) {
        let (ma, mb) = (ea.metadata().map_err(|e| e.to_string())?, eb.metadata().map_err(|e| e.to_string())?);
        let p = ea.path().display();
        if ma.mode() != mb.mode() {
            return Err(format!("{p}: mode {:o} vs {:o}", ma.mode(), mb.mode()));
        }
        if (ma.mtime(), ma.mtime_nsec()) != (mb.mtime(), mb.mtime_nsec()) {
            return Err(format!("{p}: mtime differs"));
        }
        if ma.file_type().is_symlink() {
            if fs::read_link(ea.path()).ok() != fs::read_link(eb.path()).ok() {
                return Err(format!("{p}: symlink target differs"));
            }
        } else if ma.is_file() {
            if fs::read(ea.path()).map_err(|e| e.to_string())? != fs::read(eb.path()).map_err(|e| e.to_string())? {
                return Err(format!("{p}: contents differ"));
            }
            files += 1;
        }
    }
    Ok(files)
}

/// A directory laid out as Chroma 1.x persists one collection (for the demo
/// when chromadb is not installed): `chroma.sqlite3` with the catalogue
/// tables cairn reads (collections, segments, max_seq_id, embeddings) and
/// one vector segment directory with an hnswlib index of `items` elements
/// of `dim` floats (`header.bin`, `data_level0.bin`, `length.bin`,
/// `link_lists.bin`; format-spec/chroma.md). Not loadable by chromadb: its
/// vectors are random and its graph links empty.
pub fn chroma_layout(dir: &Path, items: usize, dim: usize, seed: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let (seg, meta, coll) = (
        "5f0c2a8e-0000-4000-8000-00000000hnsw",
        "5f0c2a8e-0000-4000-8000-00000000meta",
        "c011ec71-0000-4000-8000-000000000001",
    );
    fs::create_dir_all(dir.join(seg)).map_err(|e| e.to_string())?;
    let c = rusqlite::Connection::open(dir.join("chroma.sqlite3")).map_err(|e| e.to_string())?;
    c.execute_batch(&format!(
        "PRAGMA journal_mode=wal;
         CREATE TABLE collections(id TEXT PRIMARY KEY, name TEXT NOT NULL, dimension INTEGER);
         CREATE TABLE segments(id TEXT PRIMARY KEY, type TEXT NOT NULL, scope TEXT NOT NULL, collection TEXT REFERENCES collections(id));
         CREATE TABLE max_seq_id(segment_id TEXT PRIMARY KEY, seq_id INTEGER);
         CREATE TABLE embeddings(id INTEGER PRIMARY KEY, segment_id TEXT NOT NULL, embedding_id TEXT NOT NULL, seq_id INTEGER, document TEXT);
         INSERT INTO collections VALUES ('{coll}', 'scripts', {dim});
         INSERT INTO segments VALUES ('{seg}', 'urn:chroma:segment/vector/hnsw-local-persisted', 'VECTOR', '{coll}');
         INSERT INTO segments VALUES ('{meta}', 'urn:chroma:segment/metadata/sqlite', 'METADATA', '{coll}');
         INSERT INTO max_seq_id VALUES ('{seg}', {items}), ('{meta}', {items});"
    ))
    .map_err(|e| e.to_string())?;
    let tx = c.unchecked_transaction().map_err(|e| e.to_string())?;
    for i in 0..items {
        let doc = String::from_utf8_lossy(&script_text(&mut rng, 200)).into_owned();
        tx.execute(
            "INSERT INTO embeddings(segment_id, embedding_id, seq_id, document) VALUES (?1, ?2, ?3, ?4)",
            (meta, format!("scene-{i}"), i as i64 + 1, doc),
        )
        .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())?;
    // hnswlib's header (chroma.md "HNSW files"): M = 16, so maxM0 = 32.
    let (m0, links) = (32u64, 4 + 4 * 32u64);
    let stride = links + 4 * dim as u64 + 8;
    let mut h = Vec::with_capacity(100);
    h.extend_from_slice(&1u32.to_le_bytes());
    for v in [0, items as u64 + 100, items as u64, stride, links + 4 * dim as u64, links] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(&0i32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    for v in [m0 / 2, m0, m0 / 2] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(&(1.0f64 / (16f64).ln()).to_le_bytes());
    h.extend_from_slice(&100u64.to_le_bytes());
    let mut level0 = vec![0u8; items * stride as usize];
    for (i, rec) in level0.chunks_exact_mut(stride as usize).enumerate() {
        let v = &mut rec[links as usize..links as usize + 4 * dim];
        rng.fill(v);
        for f in v.chunks_exact_mut(4) {
            f[3] = 0x3e + (f[3] & 1);
        }
        let at = stride as usize - 8;
        rec[at..].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    }
    let w = |name: &str, b: &[u8]| fs::write(dir.join(seg).join(name), b).map_err(|e| e.to_string());
    w("header.bin", &h)?;
    w("data_level0.bin", &level0)?;
    w("length.bin", &vec![0u8; items * 4])?;
    w("link_lists.bin", &[])
}

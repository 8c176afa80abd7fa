//! The application's whole data stack beside restic and borg, in one run: a
//! SQLite database in WAL mode (benches/appdb.rs), a Chroma directory of
//! 384-d items (the real chromadb, through tests/chroma/tool.py) and a tree
//! of script files. One "hour" = 0.5% of rows and items inserted, 0.5%
//! updated, 0.1% deleted, and 0.5% of the script files added and as many
//! rewritten.
//!
//! cairn takes one snapshot of `FILES sqlite:DB chroma:DIR`; restic and borg
//! back up what the operations guide's scripts produce: the files, a
//! `sqlite3 .backup` copy of the database and a copy of the Chroma
//! directory (its time is counted in theirs). Per tool: first snapshot,
//! hourly snapshot, repository growth per hour (whole stack, and per
//! component from one repository per component, cairn and restic), restore
//! of the latest snapshot.
//!
//! `cargo bench --bench stack` (env: BENCH_DB_MIB=512, BENCH_ITEMS=50000,
//! BENCH_FILES=2000, BENCH_HOURS=12, BENCH_DIR=target/bench). Needs
//! chromadb (`./scripts/test` installs it; or CAIRN_TEST_PYTHON), and
//! restic, borgbackup and sqlite3 for the peer columns.

#[path = "appdb.rs"]
mod appdb;
#[path = "common.rs"]
mod common;
#[path = "stackdata.rs"]
mod stackdata;
use common::*;
use stackdata::{run_step, step, tool};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How each tool backs up a set of inputs into a repository.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Cairn,
    Restic,
    Borg,
}

struct Stack {
    files: PathBuf,
    db: PathBuf,
    chroma: PathBuf,
    /// Where restic and borg find the guide's copies.
    stage: PathBuf,
}

impl Stack {
    /// The guide's copies: `sqlite3 .backup` and a copy of the Chroma directory.
    fn stage_cmd(&self, parts: &[&str]) -> String {
        let mut s = String::from("set -e; ");
        if parts.contains(&"db") {
            s += &format!(
                "rm -f {0}/app.db; sqlite3 {1} \".backup '{0}/app.db'\"; ",
                self.stage.display(),
                self.db.display()
            );
        }
        if parts.contains(&"chroma") {
            s += &format!("rm -rf {0}/chroma; cp -a {1} {0}/chroma; ", self.stage.display(), self.chroma.display());
        }
        s
    }

    fn inputs(&self, kind: Kind, parts: &[&str]) -> Vec<String> {
        let mut v = Vec::new();
        for p in parts {
            v.push(match (kind, *p) {
                (_, "files") => self.files.display().to_string(),
                (Kind::Cairn, "db") => format!("sqlite:{}", self.db.display()),
                (Kind::Cairn, "chroma") => format!("chroma:{}", self.chroma.display()),
                (_, "db") => self.stage.join("app.db").display().to_string(),
                (_, _) => self.stage.join("chroma").display().to_string(),
            });
        }
        v
    }

    /// One snapshot of `parts` into `repo`, as one measured shell command.
    fn backup(&self, kind: Kind, repo: &Path, parts: &[&str], name: &str) -> (f64, u64) {
        let inputs = self.inputs(kind, parts).join(" ");
        let cmd = match kind {
            Kind::Cairn => format!("{} -r {} backup {inputs}", env!("CARGO_BIN_EXE_cairn"), repo.display()),
            Kind::Restic => format!("{}restic -q -r {} backup {inputs}", self.stage_cmd(parts), repo.display()),
            Kind::Borg => format!("{}borg create {}::{name} {inputs}", self.stage_cmd(parts), repo.display()),
        };
        let (t, m, _) = measure(&mut shell(&cmd));
        (t, m)
    }
}

fn shell(cmd: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", cmd]).stdout(Stdio::null());
    c.env("CAIRN_PASSWORD", "bench").env("RESTIC_PASSWORD", "bench");
    c.env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes").env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes");
    c
}

fn init(kind: Kind, repo: &Path) {
    let cmd = match kind {
        Kind::Cairn => format!("{} -r {} init", env!("CARGO_BIN_EXE_cairn"), repo.display()),
        Kind::Restic => format!("restic -q -r {} init", repo.display()),
        Kind::Borg => format!("borg init -e none {}", repo.display()),
    };
    assert!(shell(&cmd).status().unwrap().success(), "{cmd}");
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--exact") {
        return;
    }
    if let Ok(spec) = std::env::var("BENCH_STACK_STEP") {
        return run_step(&spec);
    }
    let (mib, items, nfiles, hours): (u64, usize, usize, usize) = (
        env_or("BENCH_DB_MIB", 512),
        env_or("BENCH_ITEMS", 50_000),
        env_or("BENCH_FILES", 2_000),
        env_or("BENCH_HOURS", 12),
    );
    let base =
        std::path::absolute(PathBuf::from(env_or("BENCH_DIR", "target/bench".to_string())).join("stack")).unwrap();
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("stage")).unwrap();
    let s = Stack {
        files: base.join("scripts"),
        db: base.join("app.db"),
        chroma: base.join("chroma"),
        stage: base.join("stage"),
    };
    let d = |p: &Path| p.display().to_string();
    eprintln!("generating: {mib} MiB database, {items} Chroma items, {nfiles} script files in {}", base.display());
    step(&["db".into(), d(&s.db), mib.to_string()]);
    step(&["files".into(), d(&s.files), "0".into(), nfiles.to_string(), "1".into()]);
    tool(&["make".into(), d(&s.chroma), items.to_string(), "1".into()]);

    let mut kinds = vec![(Kind::Cairn, "cairn")];
    if have("restic") && have("sqlite3") {
        kinds.push((Kind::Restic, "restic"));
    }
    if have("borg") && have("sqlite3") {
        kinds.push((Kind::Borg, "borg"));
    }
    let whole: &[&str] = &["files", "db", "chroma"];
    let components: [&[&str]; 3] = [&["files"], &["db"], &["chroma"]];
    // metric -> tool -> values
    let mut results: BTreeMap<String, BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    let mut put =
        |m: &str, t: &'static str, v: f64| results.entry(m.to_string()).or_default().entry(t).or_default().push(v);
    let repo = |name: &str, part: &str| base.join(format!("repo-{name}-{part}"));
    for &(k, name) in &kinds {
        init(k, &repo(name, "stack"));
        if k != Kind::Borg {
            for c in &components {
                init(k, &repo(name, c[0]));
            }
        }
    }
    let mib_of = |b: u64| b as f64 / 1048576.0;
    for hour in 0..=hours {
        if hour > 0 {
            step(&["activity".into(), d(&s.db), (1000 + hour).to_string()]);
            let (add, update, delete) = (items / 200, items / 200, items / 1000);
            tool(&[
                "change".into(),
                d(&s.chroma),
                add.to_string(),
                update.to_string(),
                delete.to_string(),
                hour.to_string(),
            ]);
            step(&[
                "files".into(),
                d(&s.files),
                (nfiles + hour * nfiles / 200).to_string(),
                (nfiles / 200).to_string(),
                hour.to_string(),
            ]);
            step(&[
                "files".into(),
                d(&s.files),
                (hour * 7 % nfiles).to_string(),
                (nfiles / 200).to_string(),
                (100 + hour).to_string(),
            ]);
        }
        for &(k, name) in &kinds {
            warm(&base);
            let r = repo(name, "stack");
            let before = dir_size(&r);
            let (t, _) = s.backup(k, &r, whole, &format!("h{hour}"));
            let grown = dir_size(&r) - before;
            if hour == 0 {
                put("1 first snapshot s", name, t);
                put("2 first snapshot MiB", name, mib_of(grown));
            } else {
                put("3 hourly snapshot s", name, t);
                put("4 hourly growth MiB", name, mib_of(grown));
            }
            if k == Kind::Borg {
                continue;
            }
            for c in &components {
                let r = repo(name, c[0]);
                let before = dir_size(&r);
                s.backup(k, &r, c, &format!("h{hour}"));
                let key = if hour == 0 { format!("5 first MiB: {}", c[0]) } else { format!("6 hourly MiB: {}", c[0]) };
                put(&key, name, mib_of(dir_size(&r) - before));
            }
        }
        eprintln!("hour {hour} done");
    }
    for &(k, name) in &kinds {
        let target = base.join(format!("restore-{name}"));
        let _ = std::fs::remove_dir_all(&target);
        std::fs::create_dir_all(&target).unwrap();
        let r = repo(name, "stack");
        let cmd = match k {
            Kind::Cairn => format!(
                "{} -r {} restore latest --target {}",
                env!("CARGO_BIN_EXE_cairn"),
                r.display(),
                target.display()
            ),
            Kind::Restic => format!("restic -q -r {} restore latest --target {}", r.display(), target.display()),
            Kind::Borg => format!("cd {} && borg extract {}::h{hours}", target.display(), r.display()),
        };
        let (t, _, _) = measure(&mut shell(&cmd));
        put("7 restore latest s", name, t);
        put("8 repository MiB", name, mib_of(dir_size(&r)));
    }
    println!(
        "\nstack benchmark: {} MiB database, {items} Chroma items ({} MiB), {nfiles} script files; {hours} hours; medians",
        std::fs::metadata(&s.db).map(|m| m.len() >> 20).unwrap_or(0),
        dir_size(&s.chroma) >> 20
    );
    print!("{:<28}", "metric");
    for (_, n) in &kinds {
        print!("{n:>12}");
    }
    for (_, n) in kinds.iter().skip(1) {
        print!("{:>14}", format!("{n}/cairn"));
    }
    println!();
    for (metric, per) in &results {
        print!("{:<28}", &metric[2..]);
        let med: Vec<Option<f64>> = kinds.iter().map(|(_, n)| per.get(n).map(|v| median(v.clone()))).collect();
        for m in &med {
            match m {
                Some(m) => print!("{m:>12.2}"),
                None => print!("{:>12}", "-"),
            }
        }
        for m in med.iter().skip(1) {
            match (m, med[0]) {
                (Some(m), Some(c)) if c > 0.0 => print!("{:>14.2}", m / c),
                _ => print!("{:>14}", "-"),
            }
        }
        println!();
    }
}

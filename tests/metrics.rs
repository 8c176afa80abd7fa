//! Metrics as Prometheus sees them: every job kind (backup, forget, prune,
//! check, integrity, drill), succeeded and failed, writes a file that
//! `promtool check metrics` accepts with `backup_job_success` saying which;
//! a failed run keeps the last success time; a real Pushgateway on
//! loopback holds what was pushed, and the guide's alert rules, run by
//! `promtool test rules` over those values, fire as they should. Needs
//! promtool and prometheus-pushgateway (`./scripts/test` installs them).

mod common;
use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

fn need(tool: &str) {
    assert!(
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap().status.success(),
        "{tool} is missing: run ./scripts/test (it installs Debian's prometheus and prometheus-pushgateway)"
    );
}

/// promtool's verdict on an exposition.
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn value(text: &str, name: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(&format!("{name}{{"))).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Run `cmd` with a metrics file; its exit code and the file.
fn with_metrics(cmd: &mut Command, file: &Path, job: &str) -> (i32, String) {
    let out = cmd.arg("--metrics-file").arg(file).args(["--metrics-job", job]).output().unwrap();
    (out.status.code().unwrap_or(-1), fs::read_to_string(file).unwrap_or_default())
}

#[test]
fn every_job_writes_metrics_promtool_accepts() {
    need("promtool");
    let tmp = tempfile::tempdir().unwrap();
    let (file, redis) = common::livestack::write(tmp.path(), "repository = \"repo\"\nname = \"app\"\n", "");
    redis.cli(&["DEBUG", "POPULATE", "500"]);
    let repo = tmp.path().join("repo");
    init_small(&repo);
    let stack = file.to_str().unwrap().to_string();
    let damaged = tmp.path().join("damaged");
    let m = |name: &str| tmp.path().join(format!("{name}.prom"));
    let missing = tmp.path().join("missing");
    // (job, succeeding command, failing command, the repository it fails on)
    type Case<'a> = (&'a str, Vec<String>, Vec<String>, &'a Path);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: Vec<Case> = vec![
        ("stack-backup", s(&["backup", "--stack", &stack]), s(&["backup", missing.to_str().unwrap()]), &repo),
        ("forget", s(&["forget", "--keep-last", "5"]), s(&["forget", "--tag", "nosuch", "--keep-last", "1"]), &repo),
        ("prune", s(&["prune"]), s(&["prune"]), &missing),
        ("check", s(&["check"]), s(&["check", "--read-data"]), &damaged),
        (
            "integrity",
            s(&["integrity", "--stack", &stack]),
            s(&["integrity", "--stack", missing.to_str().unwrap()]),
            &repo,
        ),
        ("drill", s(&["drill", "--stack", &stack]), s(&["drill", "--stack", &stack, "--rto", "1ms"]), &repo),
    ];
    for (job, good, bad, bad_repo) in cases {
        if job == "check" {
            // A copy of the repository with one pack altered.
            copy_tree(&repo, &damaged);
            let pack = walkdir::WalkDir::new(damaged.join("data"))
                .into_iter()
                .filter_map(Result::ok)
                .find(|e| e.file_type().is_file())
                .unwrap();
            let mut bytes = fs::read(pack.path()).unwrap();
            bytes[40] ^= 0xff;
            fs::write(pack.path(), bytes).unwrap();
        }
        let (code, text) = with_metrics(cairn(&repo).args(&good), &m(job), job);
        assert_eq!(code, 0, "{job} should succeed: {text}");
        promtool_accepts(&text);
        assert_eq!(value(&text, "backup_job_success"), Some(1.0), "{job}: {text}");
        let last = value(&text, "backup_last_success_timestamp").expect("a success time");
        assert!((last - jiff::Timestamp::now().as_second() as f64).abs() < 120.0, "{job}: {text}");
        assert!(text.contains(&format!("backup_job_success{{job=\"{job}\"}} 1")), "{text}");

        let (code, text) = with_metrics(cairn(bad_repo).args(&bad), &m(job), job);
        assert_ne!(code, 0, "{job} should fail");
        promtool_accepts(&text);
        assert_eq!(value(&text, "backup_job_success"), Some(0.0), "{job}: {text}");
        assert_eq!(
            value(&text, "backup_last_success_timestamp"),
            Some(last),
            "{job}: a failure erased the last success"
        );
        assert_eq!(value(&text, "cairn_job_exit_code"), Some(code as f64), "{job}: {text}");
        if job == "stack-backup" {
            // The success had per-component figures.
            let ok_run = with_metrics(cairn(&repo).args(&good), &m("again"), job).1;
            for c in ["projects", "vectors", "cache", "scripts"] {
                assert!(
                    ok_run.contains(&format!("cairn_component_duration_seconds{{job=\"{job}\",component=\"{c}\"}}")),
                    "{c}: {ok_run}"
                );
            }
            assert!(value(&ok_run, "cairn_repository_size_bytes").unwrap() > 0.0);
            assert!(value(&ok_run, "cairn_database_pages").unwrap() > 1.0, "{ok_run}");
        }
        if job == "check" {
            assert!(value(&text, "cairn_check_errors").unwrap() >= 1.0, "{text}");
        }
    }

    // An unwritable metrics path: one warning line; the job's result stands.
    let out = cairn(&repo).args(["--metrics-file", "/nonexistent/dir/m.prom", "snapshots"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("warning: cannot write --metrics-file /nonexistent/dir/m.prom"), "{err}");
}

/// A private Pushgateway on a free loopback port, stopped when dropped.
struct Pushgateway {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Pushgateway {
    fn start() -> Pushgateway {
        need("prometheus-pushgateway");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--persistence.file={}", dir.path().join("p.data").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed().as_secs() < 20, "the Pushgateway never listened");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Pushgateway { child, url, _dir: dir }
    }

    /// The gateway's own exposition of what it holds.
    fn scrape(&self) -> String {
        let mut r = ureq::get(&format!("{}/metrics", self.url)).call().expect("the Pushgateway answers");
        r.body_mut().read_to_string().unwrap()
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `name` for job `job` in a Pushgateway scrape.
fn pushed(scrape: &str, name: &str, job: &str) -> Option<f64> {
    scrape
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(&format!("job=\"{job}\"")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn the_pushgateway_holds_success_and_failure_and_the_guide_alerts_fire() {
    need("promtool");
    let gw = Pushgateway::start();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    state(&data, 1);
    let push = |args: &[&str]| {
        let out = cairn(&repo)
            .args(["--pushgateway", &gw.url, "--metrics-job", "sqlite-backup"])
            .args(args)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).lines().all(|l| !l.contains("push")), "{out:?}");
        out.status.code()
    };
    assert_eq!(push(&["backup", data.to_str().unwrap()]), Some(0));
    let s = gw.scrape();
    assert_eq!(pushed(&s, "backup_job_success", "sqlite-backup"), Some(1.0), "{s}");
    let last = pushed(&s, "backup_last_success_timestamp", "sqlite-backup").expect("pushed");
    assert!(pushed(&s, "cairn_backup_bytes_added", "sqlite-backup").is_some(), "{s}");
    assert!(s.contains(&format!("instance=\"{}\"", cairn::sys::hostname())), "grouped by instance: {s}");

    assert_ne!(push(&["backup", tmp.path().join("missing").to_str().unwrap()]), Some(0));
    let s = gw.scrape();
    assert_eq!(pushed(&s, "backup_job_success", "sqlite-backup"), Some(0.0), "{s}");
    assert_eq!(
        pushed(&s, "backup_last_success_timestamp", "sqlite-backup"),
        Some(last),
        "the failure erased the success time"
    );

    // The guide's rules over these values, as Prometheus would evaluate them.
    let rules = tmp.path().join("rules.yml");
    fs::write(&rules, GUIDE_RULES).unwrap();
    let check = Command::new("promtool").args(["check", "rules"]).arg(&rules).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let test = tmp.path().join("test.yml");
    let now_success = pushed(&s, "backup_job_success", "sqlite-backup").unwrap();
    fs::write(&test, rule_test(&rules, now_success)).unwrap();
    let out = Command::new("promtool").args(["test", "rules"]).arg(&test).output().unwrap();
    assert!(
        out.status.success(),
        "promtool test rules failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // An unreachable Pushgateway: one warning line; the backup still succeeds.
    let dead = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    let out = cairn(&repo).args(["--pushgateway", &dead, "backup"]).arg(&data).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("warning: cannot push metrics to --pushgateway"), "{err}");
}

/// The operations guide's alert rules, verbatim in their expressions.
const GUIDE_RULES: &str = r#"groups:
- name: backup.rules
  rules:
  - alert: BackupFailed
    expr: backup_job_success{job="sqlite-backup"} == 0
    for: 5m
    labels:
      severity: critical
  - alert: BackupAging
    expr: time() - backup_last_success_timestamp > 86400
    for: 1h
    labels:
      severity: warning
"#;

/// A promtool rule test: the series as the Pushgateway holds them after a
/// success and then a failure (`success`, as pushed), with the test clock
/// starting at the success time (so the timestamp series is 0), held for
/// 26 hours: BackupFailed fires after its 5 minutes, BackupAging after 24 h
/// and its hour.
fn rule_test(rules: &Path, success: f64) -> String {
    format!(
        r#"rule_files: ["{}"]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'backup_job_success{{job="sqlite-backup",instance="h"}}'
        values: '{success}x1600'
      - series: 'backup_last_success_timestamp{{job="sqlite-backup",instance="h"}}'
        values: '0x1600'
    alert_rule_test:
      - eval_time: 4m
        alertname: BackupFailed
        exp_alerts: []
      - eval_time: 6m
        alertname: BackupFailed
        exp_alerts:
          - exp_labels: {{severity: critical, job: sqlite-backup, instance: h}}
      - eval_time: 23h
        alertname: BackupAging
        exp_alerts: []
      - eval_time: 25h10m
        alertname: BackupAging
        exp_alerts:
          - exp_labels: {{severity: warning, job: sqlite-backup, instance: h}}
"#,
        rules.display(),
    )
}

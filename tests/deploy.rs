//! `deploy/` as a cluster and a server would take it, without either: the
//! Kubernetes manifests against the API schemas (`kubernetes-validate
//! --strict`), the guide's schedule and `concurrencyPolicy: Forbid` in the
//! CronJobs, every job's command line accepted by cairn, the ConfigMap's
//! stack file loaded by cairn, the PrometheusRule's groups through
//! `promtool check rules` and a rule test for the drill alert, and the
//! systemd units through `systemd-analyze verify`. The tools come from
//! `./scripts/test` (kubernetes-validate into the test virtual environment,
//! Debian's prometheus for promtool).

mod common;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_tool(name: &str) -> PathBuf {
    let p = common::chroma::python().parent().unwrap().join(name);
    assert!(p.exists(), "{} is missing: run ./scripts/test (it installs tests/deploy/requirements.txt)", p.display());
    p
}

/// Every document of a YAML file, as JSON (through the venv's PyYAML).
fn documents(file: &Path) -> Vec<Value> {
    let out = Command::new(common::chroma::python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn validates(file: &Path) -> (bool, String) {
    let out = Command::new(venv_tool("kubernetes-validate")).arg("--strict").arg(file).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && !text.contains("ERROR"), text)
}

/// cairn accepts `args` (its flags and values parse; --help stops it there).
fn cairn_accepts(args: &[String]) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "cairn refuses `{}`: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn kubernetes_manifests_validate_and_keep_the_guides_schedule() {
    let dir = root().join("deploy/kubernetes");
    let mut kinds = Vec::new();
    for e in fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let docs = documents(&p);
        kinds.extend(docs.iter().map(|d| d["kind"].as_str().unwrap().to_string()));
        if docs.iter().all(|d| d["kind"] == "PrometheusRule") {
            continue; // a CRD: no API schema; checked by promtool below
        }
        let (ok, text) = validates(&p);
        assert!(ok, "{} fails schema validation:\n{text}", p.display());
    }
    for k in ["CronJob", "ConfigMap", "Secret", "PrometheusRule", "Deployment", "Service", "PersistentVolumeClaim"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} in deploy/kubernetes");
    }
    // The validator is not a rubber stamp: a misspelt field fails.
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("broken.yaml");
    fs::write(
        &broken,
        fs::read_to_string(dir.join("cronjobs.yaml")).unwrap().replacen(
            "  concurrencyPolicy: Forbid",
            "  concurencyPolicy: Forbid",
            1,
        ),
    )
    .unwrap();
    assert!(!validates(&broken).0, "a misspelt field passed validation");

    let jobs = documents(&dir.join("cronjobs.yaml"));
    let by_name =
        |n: &str| jobs.iter().find(|j| j["metadata"]["name"] == n).unwrap_or_else(|| panic!("no CronJob {n}"));
    for (name, schedule) in [
        ("cairn-stack-backup", "0 */6 * * *"),
        ("cairn-chroma-backup", "0 2 * * *"),
        ("cairn-integrity", "0 4 * * *"),
        ("cairn-forget-prune", "30 4 * * *"),
        ("cairn-check", "0 5 * * 0"),
        ("cairn-drill", "0 6 * * 0"),
    ] {
        assert_eq!(by_name(name)["spec"]["schedule"], schedule, "{name}");
    }
    let text = fs::read_to_string(dir.join("cronjobs.yaml")).unwrap();
    assert!(text.contains("#   schedule: \"*/15 * * * *\""), "the cheap-snapshot variant is documented");
    for j in &jobs {
        let name = j["metadata"]["name"].as_str().unwrap();
        assert_eq!(j["spec"]["concurrencyPolicy"], "Forbid", "{name}");
        let c = &j["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        let args: Vec<String> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
        assert!(
            args.iter().any(|a| a == "--pushgateway") && args.iter().any(|a| a == "--metrics-job"),
            "{name}: {args:?}"
        );
        cairn_accepts(&args);
        assert!(c["env"].to_string().contains("CAIRN_PASSWORD_FILE"), "{name}: the password comes from the Secret");
    }
    // The guide's alert names its job sqlite-backup: the 6-hourly job pushes as that.
    assert!(by_name("cairn-stack-backup").to_string().contains("sqlite-backup"));

    // The ConfigMap's stack file is one cairn loads.
    let cm = documents(&dir.join("configmap.yaml"));
    let toml = cm[0]["data"]["cairn.toml"].as_str().unwrap();
    let file = tmp.path().join("cairn.toml");
    fs::write(&file, toml).unwrap();
    let st = cairn::stack::load(&file).unwrap();
    let names: Vec<&str> = st.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["projects", "vectors", "cache", "scripts"]);
    assert_eq!((st.retention.hourly, st.retention.daily, st.retention.weekly, st.retention.monthly), (24, 30, 12, 12));
}

#[test]
fn the_prometheus_rules_check_and_the_drill_alert_fires() {
    assert!(
        Command::new("sh").args(["-c", "command -v promtool"]).status().unwrap().success(),
        "promtool is missing: run ./scripts/test"
    );
    let tmp = tempfile::tempdir().unwrap();
    let rule = &documents(&root().join("deploy/kubernetes/prometheusrule.yaml"))[0];
    let rules = tmp.path().join("rules.json");
    // A plain rule file is the PrometheusRule's spec (JSON is YAML).
    fs::write(&rules, rule["spec"].to_string()).unwrap();
    let out = Command::new("promtool").args(["check", "rules"]).arg(&rules).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let exprs = rule["spec"].to_string();
    assert!(exprs.contains(r#"backup_job_success{job=\"sqlite-backup\"} == 0"#), "the guide's expression changed");
    assert!(exprs.contains("time() - backup_last_success_timestamp > 86400"), "the guide's expression changed");

    let test = tmp.path().join("test.yml");
    fs::write(
        &test,
        format!(
            r#"rule_files: ["{}"]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'backup_job_success{{job="drill",instance="h"}}'
        values: '1x10 0x20'
    alert_rule_test:
      - eval_time: 9m
        alertname: RecoveryDrillFailed
        exp_alerts: []
      - eval_time: 20m
        alertname: RecoveryDrillFailed
        exp_alerts:
          - exp_labels: {{severity: critical, job: drill, instance: h}}
            exp_annotations:
              summary: "The weekly recovery drill missed an objective (RTO, RPO or a check); run `cairn drill --stack` to see which"
"#,
            rules.display()
        ),
    )
    .unwrap();
    let out = Command::new("promtool").args(["test", "rules"]).arg(&test).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn systemd_units_verify_and_their_commands_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = root().join("deploy/systemd");
    let mut units = Vec::new();
    for e in fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = fs::read_to_string(&p).unwrap();
        // Verified against the built binary (verify checks ExecStart exists).
        let text = text.replace("/usr/local/bin/cairn", env!("CARGO_BIN_EXE_cairn"));
        if let Some(line) = text.lines().find(|l| l.starts_with("ExecStart=")) {
            let args: Vec<String> = line.split_whitespace().skip(1).map(|a| a.replace("%%", "%")).collect();
            cairn_accepts(&args);
        }
        let to = tmp.path().join(p.file_name().unwrap());
        fs::write(&to, text).unwrap();
        units.push(to);
    }
    let timers = units.iter().filter(|u| u.extension().is_some_and(|x| x == "timer")).count();
    assert!(timers >= 6, "{units:?}");
    let out = Command::new("systemd-analyze").arg("verify").args(&units).output();
    let out = out.expect("systemd-analyze is missing: run ./scripts/test (it installs systemd)");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

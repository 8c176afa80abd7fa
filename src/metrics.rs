//! A run's metrics in the Prometheus text exposition format, encoded by
//! the official client (`prometheus-client`), written to a file for
//! node_exporter's textfile collector or pushed to a Pushgateway.
//!
//! The operations guide's alert rules read `backup_job_success{job=…}` (1
//! or 0) and `backup_last_success_timestamp` (seconds since the epoch);
//! every job writes both, so those rules work unchanged. A failed run must
//! not erase the time of the last success, or "no success for 24 hours"
//! could never fire: a failed run keeps the previous value (from the old
//! file; at the Pushgateway by POST, which replaces only the metrics it
//! names, where a succeeded run PUTs its whole group).

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Names every job writes.
pub const SUCCESS: &str = "backup_job_success";
pub const LAST_SUCCESS: &str = "backup_last_success_timestamp";

/// How long a push may take before it is given up (a job is never held up
/// longer by its monitoring).
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    help: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// The samples of one run: gauges, each a name, labels and a value.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    samples: Vec<Sample>,
}

type Gauges = Family<Vec<(String, String)>, Gauge<f64, AtomicU64>>;

impl Metrics {
    /// Set `name{labels}` to `value` (replacing an earlier value).
    pub fn set(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.retain(|s| !(s.name == name && s.labels == labels));
        self.samples.push(Sample { name: name.into(), help: help.into(), labels, value });
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.samples.iter().find(|s| s.name == name).map(|s| s.value)
    }

    /// The text exposition, each sample with `extra` labels first.
    pub fn encode(&self, extra: &[(&str, &str)]) -> String {
        let mut registry = Registry::default();
        let mut families: Vec<(String, Gauges)> = Vec::new();
        for s in &self.samples {
            let family = match families.iter().find(|(n, _)| *n == s.name) {
                Some((_, f)) => f.clone(),
                None => {
                    let f = Gauges::default();
                    registry.register(s.name.clone(), s.help.clone(), f.clone());
                    families.push((s.name.clone(), f.clone()));
                    f
                }
            };
            let labels: Vec<(String, String)> =
                extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).chain(s.labels.iter().cloned()).collect();
            family.get_or_create(&labels).set(s.value);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, &registry).expect("writing to a String");
        out
    }

    /// Write the exposition to `path` (under a temporary name in the same
    /// directory, then renamed: the collector never reads half a file),
    /// labelled `job`. A failed run keeps the last success time the old
    /// file had.
    pub fn write_file(&self, path: &std::path::Path, job: &str) -> Result<(), String> {
        let mut m = self.clone();
        if m.get(LAST_SUCCESS).is_none() {
            if let Some(t) = std::fs::read_to_string(path).ok().and_then(|old| value_in(&old, LAST_SUCCESS)) {
                m.set(LAST_SUCCESS, LAST_SUCCESS_HELP, &[], t);
            }
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            std::process::id()
        ));
        let text = m.encode(&[("job", job)]);
        std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write --metrics-file {}: {e}", path.display())
        })
    }

    /// Push to the Pushgateway at `url`, grouped by `job` and `instance`:
    /// PUT (the group's metrics replaced) after a success, POST (only these
    /// names replaced, so the last success time stays) after a failure.
    pub fn push(&self, url: &str, job: &str, instance: &str) -> Result<(), String> {
        let enc = |s: &str| {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        let target = format!("{}/metrics/job/{}/instance/{}", url.trim_end_matches('/'), enc(job), enc(instance));
        let body = self.encode(&[]);
        let agent = ureq::Agent::config_builder().timeout_global(Some(PUSH_TIMEOUT)).build().new_agent();
        let ok = self.get(SUCCESS) == Some(1.0);
        let sent = match ok {
            true => agent.put(&target).header("Content-Type", "text/plain; version=0.0.4").send(body.as_bytes()),
            false => agent.post(&target).header("Content-Type", "text/plain; version=0.0.4").send(body.as_bytes()),
        };
        sent.map(|_| ()).map_err(|e| format!("cannot push metrics to --pushgateway {url}: {e}"))
    }
}

pub const LAST_SUCCESS_HELP: &str = "When this job last succeeded, seconds since the Unix epoch";

/// The value of the first sample of `name` in an exposition.
fn value_in(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with('{') || r.starts_with(' ')))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_families_with_labels_and_reads_back() {
        let mut m = Metrics::default();
        m.set(SUCCESS, "1 if the job succeeded", &[], 1.0);
        m.set("cairn_component_seconds", "per component", &[("component", "db")], 0.5);
        m.set("cairn_component_seconds", "per component", &[("component", "files")], 2.0);
        let text = m.encode(&[("job", "sqlite-backup")]);
        assert!(text.contains("# TYPE backup_job_success gauge"), "{text}");
        assert!(text.contains("backup_job_success{job=\"sqlite-backup\"} 1"), "{text}");
        assert!(text.contains("cairn_component_seconds{job=\"sqlite-backup\",component=\"files\"} 2"), "{text}");
        assert_eq!(value_in(&text, SUCCESS), Some(1.0));
        assert_eq!(value_in(&text, "cairn_component"), None);
    }
}

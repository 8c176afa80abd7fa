//! Retention: a pure function from (snapshots, policy, time zone) to a
//! keep-or-remove decision with its reasons for every snapshot. It follows
//! restic's `forget` (format-spec/retention.md has the rules and worked
//! examples):
//!
//! - snapshots are considered newest first; a bucket rule (hourly, daily,
//!   ISO-weekly, monthly, yearly, or `last`) keeps a snapshot when it is the
//!   newest of a bucket the rule has not seen yet, until the rule has kept
//!   N snapshots — buckets without snapshots do not use up the count;
//! - rules are independent: one snapshot may be kept by several, and counts
//!   for each;
//! - when a bucket rule still has count left after the oldest snapshot, the
//!   oldest snapshot is kept too (restic ≥ 0.17: maximises history);
//! - `within` keeps snapshots newer than the newest snapshot minus the span;
//! - snapshots with a `--keep-tag` tag, and protected ones, are always kept.
//!
//! Buckets are calendar fields in the given time zone, weeks are ISO weeks
//! numbered within their ISO week-year.

use crate::error::{Error, Result};
use crate::format::id::Id;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};
use serde::Serialize;

/// Largest count accepted for a rule (100 years of hourly snapshots).
pub const MAX_COUNT: u32 = 876_600;

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
    pub within: Option<Span>,
    pub tags: Vec<String>,
}

impl Policy {
    /// The operations guide's policy: hourly for 24 hours, daily for 30
    /// days, weekly for 12 weeks, monthly for 12 months.
    pub fn guide() -> Self {
        Policy { hourly: 24, daily: 30, weekly: 12, monthly: 12, ..Default::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.rules().iter().all(|r| r.1 == 0) && self.within.is_none() && self.tags.is_empty()
    }

    pub fn validate(&self) -> Result<()> {
        for (name, n) in self.rules() {
            if n > MAX_COUNT {
                return Err(Error::InvalidArgument(format!(
                    "keep-{name} count {n} is absurd (more than {MAX_COUNT}): give a realistic count"
                )));
            }
        }
        if let Some(s) = self.within {
            if s.is_negative() {
                return Err(Error::InvalidArgument(format!(
                    "keep-within span {s} is negative: give a span like 36h or 7d"
                )));
            }
        }
        Ok(())
    }

    fn rules(&self) -> [(&'static str, u32); 6] {
        [
            ("last", self.last),
            ("hourly", self.hourly),
            ("daily", self.daily),
            ("weekly", self.weekly),
            ("monthly", self.monthly),
            ("yearly", self.yearly),
        ]
    }
}

/// What retention needs to know of a snapshot.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Id,
    pub time: Timestamp,
    pub tags: Vec<String>,
    pub protected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub id: Id,
    pub keep: bool,
    /// Every rule that keeps it (empty when removed).
    pub reasons: Vec<String>,
}

/// The bucket of rule `rule` that `t` falls in (`last`: every snapshot its own).
fn bucket(rule: usize, t: &Zoned, position: usize) -> i64 {
    let (y, m, d, h) = (t.year() as i64, t.month() as i64, t.day() as i64, t.hour() as i64);
    match rule {
        0 => position as i64,
        1 => ((y * 100 + m) * 100 + d) * 100 + h,
        2 => (y * 100 + m) * 100 + d,
        3 => {
            let w = t.date().iso_week_date();
            w.year() as i64 * 100 + w.week() as i64
        }
        4 => y * 100 + m,
        _ => y,
    }
}

/// Decide for every snapshot of one group; the result is newest first.
pub fn apply(snapshots: &[Candidate], policy: &Policy, tz: &TimeZone) -> Vec<Decision> {
    let mut list: Vec<&Candidate> = snapshots.iter().collect();
    list.sort_by(|a, b| b.time.cmp(&a.time).then(b.id.cmp(&a.id)));
    let rules = policy.rules();
    let mut left: Vec<u32> = rules.iter().map(|r| r.1).collect();
    let mut last_bucket: Vec<Option<i64>> = vec![None; rules.len()];
    let cutoff = match (policy.within, list.first()) {
        (Some(span), Some(newest)) => newest.time.to_zoned(tz.clone()).checked_sub(span).ok().map(|z| z.timestamp()),
        _ => None,
    };
    let n = list.len();
    list.iter()
        .enumerate()
        .map(|(pos, s)| {
            let zoned = s.time.to_zoned(tz.clone());
            let mut reasons = Vec::new();
            if s.protected {
                reasons.push("protected".to_string());
            }
            for (r, (name, _)) in rules.iter().enumerate() {
                if left[r] == 0 {
                    continue;
                }
                let b = bucket(r, &zoned, pos);
                let oldest = pos == n - 1 && r != 0;
                if last_bucket[r] != Some(b) {
                    last_bucket[r] = Some(b);
                    left[r] -= 1;
                    reasons.push(name.to_string());
                } else if oldest {
                    // The rule is not filled: keep the oldest snapshot too.
                    reasons.push(format!("oldest {name}"));
                }
            }
            if cutoff.is_some_and(|c| s.time > c) {
                reasons.push(format!("within {}", policy.within.expect("cutoff implies within")));
            }
            for t in &policy.tags {
                if s.tags.contains(t) {
                    reasons.push(format!("tag {t}"));
                }
            }
            Decision { id: s.id, keep: !reasons.is_empty(), reasons }
        })
        .collect()
}

/// The policy as stored in `policies/<id>` (format-spec/retention.md).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Saved {
    time_ns: i64,
    counts: [u32; 6],
    within: Option<String>,
    tags: Vec<String>,
}

impl crate::format::decode::Validate for Saved {
    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(n) = self.counts.iter().find(|&&n| n > MAX_COUNT) {
            return Err(format!("count {n} is above {MAX_COUNT}"));
        }
        match &self.within {
            Some(w) if w.parse::<jiff::Span>().is_err() => Err(format!("span {w:?} does not parse")),
            _ => Ok(()),
        }
    }
}

/// Decode a `policies/` object's plaintext (its time, and the policy).
pub fn decode_saved(raw: &[u8]) -> std::result::Result<Saved, crate::format::FormatError> {
    crate::format::decode::decode(raw)
}

/// Encode a policy as `save` stores it, with time `time_ns`.
pub fn encode_saved(p: &Policy, time_ns: i64) -> Vec<u8> {
    crate::format::decode::encode(&Saved {
        time_ns,
        counts: p.rules().map(|r| r.1),
        within: p.within.map(|w| w.to_string()),
        tags: p.tags.clone(),
    })
}

impl Saved {
    /// When it was saved (ns since the Unix epoch): the newest one applies.
    pub fn time_ns(&self) -> i64 {
        self.time_ns
    }

    pub fn policy(self) -> Result<Policy> {
        let [last, hourly, daily, weekly, monthly, yearly] = self.counts;
        let within = match self.within {
            Some(w) => {
                Some(w.parse().map_err(|e| Error::InvalidArgument(format!("saved policy: bad span {w:?}: {e}")))?)
            }
            None => None,
        };
        Ok(Policy { last, hourly, daily, weekly, monthly, yearly, within, tags: self.tags })
    }
}

#[cfg(test)]
mod tests;

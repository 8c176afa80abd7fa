//! Table tests over hand-written timestamps, and a generated comparison
//! against an independent model of restic's rules.

use super::*;
use std::collections::{BTreeMap, BTreeSet};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn cands(times: &[&str]) -> Vec<Candidate> {
    times
        .iter()
        .enumerate()
        .map(|(i, t)| Candidate {
            id: Id::hash(&(i as u64).to_le_bytes()),
            time: ts(t),
            tags: vec![],
            protected: false,
        })
        .collect()
}

/// The times kept, newest first, each with its reasons.
fn kept(c: &[Candidate], p: &Policy, tz: &str) -> Vec<(String, Vec<String>)> {
    let tz = TimeZone::get(tz).unwrap();
    let time_of = |id: &Id| c.iter().find(|x| x.id == *id).unwrap().time.to_string();
    apply(c, p, &tz).into_iter().filter(|d| d.keep).map(|d| (time_of(&d.id), d.reasons)).collect()
}

fn times(k: &[(String, Vec<String>)]) -> Vec<&str> {
    k.iter().map(|(t, _)| t.as_str()).collect()
}

#[test]
fn several_snapshots_in_one_hour_keep_the_newest() {
    let c = cands(&["2026-03-01T10:05:00Z", "2026-03-01T10:35:00Z", "2026-03-01T10:59:59Z", "2026-03-01T11:00:00Z"]);
    let k = kept(&c, &Policy { hourly: 2, ..Default::default() }, "UTC");
    assert_eq!(
        k,
        vec![
            ("2026-03-01T11:00:00Z".into(), vec!["hourly".into()]),
            ("2026-03-01T10:59:59Z".into(), vec!["hourly".into()])
        ]
    );
}

#[test]
fn midnight_splits_days_and_gaps_do_not_use_up_the_count() {
    let c = cands(&[
        "2026-03-01T12:00:00Z",
        "2026-03-02T23:59:59Z",
        "2026-03-03T00:00:00Z",
        "2026-03-07T08:00:00Z",
        "2026-03-15T08:00:00Z",
    ]);
    let k = kept(&c, &Policy { daily: 3, ..Default::default() }, "UTC");
    assert_eq!(times(&k), ["2026-03-15T08:00:00Z", "2026-03-07T08:00:00Z", "2026-03-03T00:00:00Z"]);
    // One more day than there are: every day kept, and nothing extra.
    let k = kept(&c, &Policy { daily: 6, ..Default::default() }, "UTC");
    assert_eq!(k.len(), 5);
    assert!(k.iter().all(|(_, r)| r == &["daily"]));
}

#[test]
fn iso_week_spans_the_year_end() {
    // 2025-12-29 (Mon) to 2026-01-04 (Sun) is ISO week 2026-W01.
    let c = cands(&[
        "2025-12-28T12:00:00Z",
        "2025-12-29T12:00:00Z",
        "2026-01-01T12:00:00Z",
        "2026-01-04T23:00:00Z",
        "2026-01-05T01:00:00Z",
    ]);
    let k = kept(&c, &Policy { weekly: 3, ..Default::default() }, "UTC");
    assert_eq!(times(&k), ["2026-01-05T01:00:00Z", "2026-01-04T23:00:00Z", "2025-12-28T12:00:00Z"]);
}

#[test]
fn iso_week_53_and_week_1() {
    // 2026 has 53 ISO weeks: 2026-12-28 to 2027-01-03 is 2026-W53.
    let c = cands(&["2026-12-27T12:00:00Z", "2026-12-28T12:00:00Z", "2027-01-03T12:00:00Z", "2027-01-04T12:00:00Z"]);
    let k = kept(&c, &Policy { weekly: 3, ..Default::default() }, "UTC");
    assert_eq!(times(&k), ["2027-01-04T12:00:00Z", "2027-01-03T12:00:00Z", "2026-12-27T12:00:00Z"]);
    // Weekly and monthly buckets never collide (Kopia's early-year bug):
    // both rules keep the same January snapshots independently.
    let c = cands(&["2027-01-04T12:00:00Z", "2027-01-11T12:00:00Z", "2027-02-01T12:00:00Z"]);
    let k = kept(&c, &Policy { weekly: 3, monthly: 2, ..Default::default() }, "UTC");
    assert_eq!(k[0].1, ["weekly", "monthly"]);
    assert_eq!(k[1].1, ["weekly", "monthly"]);
    assert_eq!(k[2].1, ["weekly"]);
}

#[test]
fn month_ends_and_year_end() {
    let c = cands(&[
        "2026-01-31T23:00:00Z",
        "2026-02-01T00:30:00Z",
        "2026-02-28T23:59:59Z",
        "2026-03-01T00:00:00Z",
        "2026-12-31T23:59:59Z",
        "2027-01-01T00:00:00Z",
    ]);
    let k = kept(&c, &Policy { monthly: 4, ..Default::default() }, "UTC");
    assert_eq!(
        times(&k),
        ["2027-01-01T00:00:00Z", "2026-12-31T23:59:59Z", "2026-03-01T00:00:00Z", "2026-02-28T23:59:59Z"]
    );
    let k = kept(&c, &Policy { yearly: 2, ..Default::default() }, "UTC");
    assert_eq!(times(&k), ["2027-01-01T00:00:00Z", "2026-12-31T23:59:59Z"]);
}

#[test]
fn named_time_zone_moves_the_day_boundary() {
    let c = cands(&[
        "2025-12-20T12:00:00Z",
        "2026-01-02T01:00:00Z", // New York: Jan 1, 20:00
        "2026-01-02T03:30:00Z", // New York: Jan 1, 22:30
        "2026-01-02T05:30:00Z", // New York: Jan 2, 00:30
    ]);
    let p = Policy { daily: 2, ..Default::default() };
    assert_eq!(times(&kept(&c, &p, "UTC")), ["2026-01-02T05:30:00Z", "2025-12-20T12:00:00Z"]);
    assert_eq!(times(&kept(&c, &p, "America/New_York")), ["2026-01-02T05:30:00Z", "2026-01-02T03:30:00Z"]);
}

#[test]
fn within_counts_from_the_newest_snapshot_not_now() {
    let c = cands(&["2020-05-01T00:00:00Z", "2020-05-03T00:00:00Z", "2020-05-04T00:00:00Z", "2020-05-05T00:00:00Z"]);
    let p = Policy { within: Some("2d".parse().unwrap()), ..Default::default() };
    let k = kept(&c, &p, "UTC");
    // Strictly newer than 2020-05-03T00:00 (the newest minus 2 days).
    assert_eq!(times(&k), ["2020-05-05T00:00:00Z", "2020-05-04T00:00:00Z"]);
    assert!(k[0].1[0].starts_with("within"));
}

#[test]
fn oldest_is_kept_when_a_rule_is_not_filled() {
    let c = cands(&["2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "2026-03-02T10:00:00Z"]);
    let k = kept(&c, &Policy { daily: 5, ..Default::default() }, "UTC");
    assert_eq!(times(&k), ["2026-03-02T10:00:00Z", "2026-03-01T11:00:00Z", "2026-03-01T10:00:00Z"]);
    assert_eq!(k[2].1, ["oldest daily"]);
}

#[test]
fn overlapping_rules_tags_and_protection() {
    let mut c =
        cands(&["2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z", "2026-03-04T10:00:00Z"]);
    c[0].protected = true;
    c[1].tags = vec!["release".into()];
    let p = Policy { last: 1, daily: 1, tags: vec!["release".into()], ..Default::default() };
    let k = kept(&c, &p, "UTC");
    assert_eq!(k[0].1, ["last", "daily"]);
    assert_eq!(k[1], ("2026-03-02T10:00:00Z".into(), vec!["tag release".into()]));
    assert_eq!(k[2], ("2026-03-01T10:00:00Z".into(), vec!["protected".into()]));
    assert_eq!(k.len(), 3);
}

/// restic's rules stated another way: per rule, group by bucket, take the
/// N newest buckets, keep each one's newest snapshot; if fewer than N
/// buckets exist, keep the oldest snapshot too.
fn model(c: &[Candidate], p: &Policy, tz: &TimeZone) -> BTreeSet<Id> {
    let mut keep = BTreeSet::new();
    let formats = [
        (p.hourly, "%Y-%m-%d %H"),
        (p.daily, "%Y-%m-%d"),
        (p.weekly, "%G-W%V"),
        (p.monthly, "%Y-%m"),
        (p.yearly, "%Y"),
    ];
    for (n, fmt) in formats {
        if n == 0 {
            continue;
        }
        let mut buckets: BTreeMap<String, &Candidate> = BTreeMap::new();
        for s in c {
            let key = s.time.to_zoned(tz.clone()).strftime(fmt).to_string();
            let e = buckets.entry(key).or_insert(s);
            if s.time > e.time {
                *e = s;
            }
        }
        let mut newest: Vec<&Candidate> = buckets.values().copied().collect();
        newest.sort_by_key(|s| std::cmp::Reverse(s.time));
        keep.extend(newest.iter().take(n as usize).map(|s| s.id));
        if newest.len() < n as usize {
            keep.insert(c.iter().min_by_key(|s| s.time).unwrap().id);
        }
    }
    keep
}

#[test]
fn fifty_days_of_hourly_snapshots_across_a_year_end_match_the_model() {
    for (tz_name, start) in [("UTC", "2026-12-01T00:17:00Z"), ("Europe/Berlin", "2026-11-20T05:41:00Z")] {
        let tz = TimeZone::get(tz_name).unwrap();
        let start = ts(start);
        let c: Vec<Candidate> = (0..50 * 24)
            .map(|h| Candidate {
                id: Id::hash(&(h as u64).to_le_bytes()),
                time: start.checked_add(Span::new().hours(h)).unwrap(),
                tags: vec![],
                protected: false,
            })
            .collect();
        let d = apply(&c, &Policy::guide(), &tz);
        let got: BTreeSet<Id> = d.iter().filter(|d| d.keep).map(|d| d.id).collect();
        assert_eq!(got, model(&c, &Policy::guide(), &tz), "{tz_name}");
        // 24 hourly (the newest day), 30 daily, 12 weekly buckets exist in 50 days
        // but only 8 ISO weeks; 2 or 3 months: plus the oldest snapshot.
        assert!(got.len() < 24 + 30 + 12 + 12, "{}", got.len());
        assert!(d.last().unwrap().keep, "the oldest is kept while monthly is unfilled");
    }
}

//! `cairn forget`

use super::print_json;
use anyhow::Result;
use cairn::ops::forget::{execute, plan_ids, plan_of, GroupBy};
use cairn::retention::Policy;
use cairn::Repository;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn forget --dry-run\n  cairn forget --keep-daily 30 --keep-weekly 12 --prune\n  cairn forget --host web1 --tag test --keep-last 1\n  cairn forget 3f2a9c1e 7b0d44aa"
)]
pub struct Args {
    /// Remove exactly these snapshots (ids or unique prefixes) instead of
    /// applying a policy.
    #[arg(value_name = "ID", conflicts_with_all = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within", "keep_tag", "save_policy", "stack", "tags", "hosts", "paths"])]
    ids: Vec<String>,
    /// Keep the N newest snapshots.
    #[arg(long, value_name = "N")]
    keep_last: Option<i64>,
    /// Keep the newest snapshot of each of the N newest hours that have one.
    #[arg(long, value_name = "N")]
    keep_hourly: Option<i64>,
    /// Keep the newest snapshot of each of the N newest days that have one.
    #[arg(long, value_name = "N")]
    keep_daily: Option<i64>,
    /// Keep the newest snapshot of each of the N newest ISO weeks that have one.
    #[arg(long, value_name = "N")]
    keep_weekly: Option<i64>,
    /// Keep the newest snapshot of each of the N newest months that have one.
    #[arg(long, value_name = "N")]
    keep_monthly: Option<i64>,
    /// Keep the newest snapshot of each of the N newest years that have one.
    #[arg(long, value_name = "N")]
    keep_yearly: Option<i64>,
    /// Keep every snapshot newer than the newest one minus this span (e.g. 36h, 7d, 2w).
    #[arg(long, value_name = "DURATION")]
    keep_within: Option<String>,
    /// Keep every snapshot with this tag (repeatable).
    #[arg(long, value_name = "TAG")]
    keep_tag: Vec<String>,
    /// Apply the policy to each group separately: any of host, sources, tags.
    #[arg(long, default_value = "host,sources")]
    group_by: String,
    /// Time zone of the hour/day/week/month/year buckets (IANA name).
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// Show the decisions; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Run prune afterwards (accepts prune's options).
    #[arg(long)]
    prune: bool,
    #[command(flatten)]
    prune_opts: super::prune::Opts,
    /// Save the given --keep-* options as the repository's policy, used by
    /// every later `forget` without --keep-* options.
    #[arg(long)]
    save_policy: bool,
    /// Only the snapshots of the stack this stack file describes
    /// (./cairn.toml when no FILE is given), by its [retention] unless
    /// --keep-* options are given.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "cairn.toml")]
    pub stack: Option<std::path::PathBuf>,
    #[command(flatten)]
    filter: super::filter::Args,
    /// Print the decisions as JSON.
    #[arg(long)]
    json: bool,
}

fn count(name: &str, v: Option<i64>) -> Result<u32> {
    match v {
        None => Ok(0),
        Some(n) if (0..=cairn::retention::MAX_COUNT as i64).contains(&n) => Ok(n as u32),
        Some(n) => Err(cairn::Error::InvalidArgument(format!(
            "--keep-{name} {n}: give a count from 0 to {}",
            cairn::retention::MAX_COUNT
        ))
        .into()),
    }
}

pub fn parse_span(flag: &str, s: &str) -> Result<jiff::Span> {
    s.parse::<jiff::Span>().map_err(|e| {
        cairn::Error::InvalidArgument(format!("{flag} {s:?} is not a duration like 36h, 7d or 2w: {e}")).into()
    })
}

impl Args {
    fn policy(&self, repo: &Repository, stack: Option<&cairn::stack::StackFile>) -> Result<Policy> {
        let p = Policy {
            last: count("last", self.keep_last)?,
            hourly: count("hourly", self.keep_hourly)?,
            daily: count("daily", self.keep_daily)?,
            weekly: count("weekly", self.keep_weekly)?,
            monthly: count("monthly", self.keep_monthly)?,
            yearly: count("yearly", self.keep_yearly)?,
            within: self.keep_within.as_deref().map(|s| parse_span("--keep-within", s)).transpose()?,
            tags: self.keep_tag.clone(),
        };
        // Any --keep-* given, even `--keep-last 0`, is the whole policy: a
        // policy that keeps nothing is then refused, never replaced.
        let given =
            [self.keep_last, self.keep_hourly, self.keep_daily, self.keep_weekly, self.keep_monthly, self.keep_yearly]
                .iter()
                .any(Option::is_some)
                || self.keep_within.is_some()
                || !self.keep_tag.is_empty();
        if self.save_policy && !given {
            let msg = "--save-policy needs --keep-* options to save".to_string();
            return Err(cairn::Error::InvalidArgument(msg).into());
        }
        if given {
            return Ok(p);
        }
        if let Some(st) = stack {
            return Ok(st.retention.clone());
        }
        // No --keep-* at all: the saved policy, else the operations guide's.
        Ok(cairn::repo::policies::load(repo)?.unwrap_or_else(Policy::guide))
    }

    /// `stack` is the loaded stack file when `--stack` was given.
    pub fn run(self, repo: &Repository, stack: Option<&cairn::stack::StackFile>) -> Result<i32> {
        let policy = self.policy(repo, stack)?;
        let by: GroupBy = self.group_by.parse().map_err(|e| anyhow::anyhow!("--group-by: {e}"))?;
        let tz = jiff::tz::TimeZone::get(&self.tz).map_err(|e| {
            cairn::Error::InvalidArgument(format!(
                "--tz {:?} is not a known time zone (e.g. UTC, Europe/Berlin): {e}",
                self.tz
            ))
        })?;
        let prune_opts = self.prune_opts.options()?;
        // The plan refuses a policy that would empty a group, so nothing
        // of the kind is ever saved.
        let filter = self.filter.filter();
        let of = |s: &cairn::format::snapshot::Snapshot| {
            stack.is_none_or(|st| s.stack.as_ref().is_some_and(|x| x.name == st.name)) && filter.matches(s)
        };
        if !filter.is_empty() && self.ids.is_empty() && filter.list(repo)?.is_empty() {
            let msg = format!("no snapshot matches {}; nothing was removed", self.filter.describe());
            return Err(cairn::Error::InvalidArgument(msg).into());
        }
        let groups =
            if self.ids.is_empty() { plan_of(repo, &policy, by, &tz, &of)? } else { plan_ids(repo, &self.ids)? };
        if self.save_policy && !self.dry_run {
            cairn::repo::policies::save(repo, &policy)?;
            if !self.json {
                println!("saved as the repository's retention policy");
            }
        }
        let removed: usize = groups.iter().flat_map(|g| &g.snapshots).filter(|r| !r.keep).count();
        if self.json {
            print_json(&serde_json::json!({"dry_run": self.dry_run, "groups": groups}));
        } else {
            for g in &groups {
                println!(
                    "group host={} sources={}{}",
                    g.host.as_deref().unwrap_or("*"),
                    g.sources.as_ref().map(|s| s.join(",")).unwrap_or_else(|| "*".into()),
                    g.tags.as_ref().map(|t| format!(" tags={}", t.join(","))).unwrap_or_default()
                );
                for r in &g.snapshots {
                    let what = if r.keep { "keep  " } else { "remove" };
                    // The plan's times are RFC 3339; people read the local zone.
                    let when = r.time.parse::<jiff::Timestamp>().map(|t| super::local_time(t.as_nanosecond() as i64));
                    println!(
                        "  {what} {} {}  {}",
                        r.short_id,
                        when.unwrap_or_else(|_| r.time.clone()),
                        r.reasons.join(", ")
                    );
                }
            }
        }
        if self.dry_run {
            if !self.json {
                println!("dry run: {removed} snapshot(s) would be removed (bucket time zone {})", self.tz);
            }
            return Ok(0);
        }
        let n = execute(repo, &groups)?;
        if !self.json {
            println!("removed {n} snapshot(s)");
        }
        if self.prune {
            // Prune lists the snapshots again and then reads the index itself.
            return super::prune::run(repo, &prune_opts, false, self.json);
        }
        Ok(0)
    }
}

//! `cairn check`

use super::print_json;
use anyhow::Result;
use cairn::ops::check::{check_with, ReadData};
use cairn::Repository;
use std::sync::Arc;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn check\n  cairn check --read-data\n  cairn check --read-data-subset 10%")]
pub struct Args {
    /// Also read every pack and re-hash every chunk (parallel).
    #[arg(long, conflicts_with = "read_data_subset")]
    read_data: bool,
    /// Read only some packs: `N/M`, the N-th of M fixed slices (by pack
    /// id; run 1/7 … 7/7 on seven days to read everything once a week), or
    /// `P%`, about P percent chosen at random.
    #[arg(long, value_name = "N/M|P%")]
    read_data_subset: Option<String>,
    /// Move each damaged pack to quarantine/ (kept, never deleted; no
    /// command reads it again). Then run `cairn repair index` so the next
    /// backups store its chunks again, and `cairn repair snapshots`.
    #[arg(long)]
    quarantine: bool,
    #[arg(long)]
    pub json: bool,
}

impl Args {
    pub fn run(
        self,
        backend: Arc<dyn cairn::backend::Backend>,
        pw: &super::Session,
        metrics: &std::sync::Mutex<cairn::metrics::Metrics>,
    ) -> Result<i32> {
        // check builds its own index so that one unreadable index file is a
        // finding, not a reason to stop.
        let mut repo = Repository::open_without_index(backend, Some(&|| pw.get()))?;
        pw.attach(&mut repo);
        let read = match (&self.read_data_subset, self.read_data) {
            (Some(s), _) => parse_subset(s)?,
            (None, true) => ReadData::All,
            (None, false) => ReadData::None,
        };
        let mut rep = check_with(&repo, read)?;
        {
            let mut m = metrics.lock().expect("metrics");
            m.set(
                "cairn_check_errors",
                "Problems check found (0: the repository is sound)",
                &[],
                rep.errors.len() as f64,
            );
            m.set("cairn_check_packs_read", "Packs check read whole", &[], rep.packs_read as f64);
            m.set(
                "cairn_check_damaged_blobs",
                "Blobs check found damaged or missing",
                &[],
                rep.damaged_blobs.len() as f64,
            );
        }
        if self.quarantine && !rep.is_ok() {
            rep.quarantined = cairn::ops::check::quarantine(&repo, &rep)?;
        }
        if self.json {
            print_json(&rep);
        } else {
            for n in &rep.notes {
                println!("note: {n}");
            }
            for e in &rep.errors {
                println!("error: {e}");
            }
            for q in &rep.quarantined {
                println!("quarantined: {q} (run `cairn repair index`, then `cairn repair snapshots`)");
            }
            println!(
                "checked {} snapshots, {} index files, {} packs{}",
                rep.snapshots,
                rep.index_files,
                rep.packs,
                if read != ReadData::None {
                    format!(" ({} read whole), {} blobs read", rep.packs_read, rep.blobs_read)
                } else {
                    String::new()
                }
            );
        }
        if !rep.is_ok() {
            return Err(cairn::Error::Damaged(rep.errors.len()).into());
        }
        if !self.json {
            println!("no errors found");
        }
        Ok(0)
    }
}

/// `N/M` (1 ≤ N ≤ M) or `P%` (0 < P ≤ 100).
fn parse_subset(s: &str) -> Result<ReadData> {
    let bad = || {
        cairn::Error::InvalidArgument(format!(
            "--read-data-subset {s:?}: give N/M with 1 ≤ N ≤ M (e.g. 3/7) or a percentage like 10%"
        ))
    };
    if let Some(p) = s.strip_suffix('%') {
        let p: f64 = p.trim().parse().map_err(|_| bad())?;
        return if p > 0.0 && p <= 100.0 { Ok(ReadData::Percent(p)) } else { Err(bad().into()) };
    }
    let (n, m) = s.split_once('/').ok_or_else(bad)?;
    let (n, m): (u64, u64) = (n.trim().parse().map_err(|_| bad())?, m.trim().parse().map_err(|_| bad())?);
    if n == 0 || m == 0 || n > m {
        return Err(bad().into());
    }
    Ok(ReadData::Slice { n, m })
}

//! `backup --stack` and `restore --stack`: the wording of a stack snapshot
//! and of a stack restore, and the stack's webhook after each (delivered or
//! warned about; never a reason to fail).

use super::{human, print_json};
use anyhow::Result;
use cairn::ops::select::Selected;
use cairn::stack::backup::StackBackupOptions;
use cairn::stack::restore::{Mode, StackRestoreOptions};
use cairn::stack::StackFile;
use cairn::Repository;

/// Tell the stack's webhook, if it has one, how `event` went.
fn notify(stack: &StackFile, event: &str, result: &Result<serde_json::Value>) {
    let Some(url) = stack.webhook_url() else { return };
    let host = cairn::sys::hostname();
    let mut body = serde_json::json!({"stack": stack.name, "event": event, "host": host});
    // `text` is what a Slack incoming webhook shows.
    match result {
        Ok(v) => {
            body["ok"] = true.into();
            body["result"] = v.clone();
            body["text"] = format!("cairn {event} of stack {} on {host}: ok", stack.name).into();
        }
        Err(e) => {
            body["ok"] = false.into();
            body["error"] = e.to_string().into();
            body["text"] = format!("cairn {event} of stack {} on {host} FAILED: {e}", stack.name).into();
        }
    }
    if let Err(e) = cairn::stack::notify::post(&url, &body) {
        eprintln!("warning: {e}");
    }
}

pub fn backup(
    repo: &Repository,
    stack: &StackFile,
    o: &StackBackupOptions,
    json: bool,
    metrics: &std::sync::Mutex<cairn::metrics::Metrics>,
) -> Result<i32> {
    let r = cairn::stack::backup::backup(repo, stack, o).map_err(anyhow::Error::from);
    if let Ok(r) = &r {
        super::metrics::backup(metrics, repo, r);
    }
    let summary = r.as_ref().map(|r| {
        let st = r.snapshot.stack.as_ref().expect("a stack snapshot");
        let components: Vec<_> = st.components.iter().map(super::snapshots::component_json).collect();
        let mut v = serde_json::json!({"snapshot_id": r.id.to_hex(), "time": r.snapshot.time_string(), "stack": st.name,
            "components": components, "blobs_new": r.written.blobs_new, "bytes_new_stored": r.written.bytes_new_stored,
            "seconds": r.seconds, "warnings": r.warnings});
        v.as_object_mut().expect("an object").extend(cairn::source::report_groups(r.reports.iter()));
        v
    });
    let summary = summary.map_err(|e| anyhow::anyhow!("{e}"));
    notify(stack, "backup", &summary);
    let (r, summary) = (r?, summary?);
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if json {
        print_json(&summary);
        return Ok(0);
    }
    for c in &r.snapshot.stack.as_ref().expect("a stack snapshot").components {
        let hold = c.hold_us.map(|h| format!("held {} ms", h / 1000)).unwrap_or_else(|| "hold not measured".into());
        println!(
            "{:<12} {:<7} {:>10} in {:.2}s ({}, {hold})",
            c.name,
            cairn::source::name_of(c.kind),
            human(c.bytes),
            c.duration_us as f64 / 1e6,
            c.method
        );
    }
    for p in &r.reports {
        println!("{}", p.text);
    }
    println!(
        "stack snapshot {} of {} saved in {:.2}s: {} new in packs",
        r.id.short(),
        stack.name,
        r.seconds,
        human(r.written.bytes_new_stored)
    );
    Ok(0)
}

pub fn restore(
    repo: &Repository,
    stack: &StackFile,
    sel: &Selected,
    o: &StackRestoreOptions,
    json: bool,
) -> Result<i32> {
    let start = std::time::Instant::now();
    let r = cairn::stack::restore::restore(repo, stack, &sel.snapshot, o).map_err(anyhow::Error::from);
    let out = r.as_ref().map(|rs| {
        serde_json::json!({"snapshot_id": sel.id.to_hex(), "selected": sel.note, "stack": stack.name,
            "in_place": matches!(o.mode, Mode::InPlace { .. }), "components": rs,
            "seconds": start.elapsed().as_secs_f64()})
    });
    let out = out.map_err(|e| anyhow::anyhow!("{e}"));
    notify(stack, "restore", &out);
    let (rs, out) = (r?, out?);
    if json {
        print_json(&out);
        return Ok(0);
    }
    for c in &rs {
        println!("{}: {}", c.name, c.text);
        if matches!(o.mode, Mode::InPlace { .. }) {
            println!("{}: swapped in at {}", c.name, c.path.display());
        }
        if let Some(p) = &c.previous {
            println!("{}: the replaced copy is kept at {}", c.name, p.display());
        }
    }
    let how = match &o.mode {
        Mode::InPlace { .. } => "in place, every one verified before any was swapped in".to_string(),
        Mode::TargetRoot(r) => format!("under {}", r.display()),
    };
    println!(
        "restored {} component(s) of stack snapshot {} {how} in {:.2}s",
        rs.len(),
        sel.id.short(),
        start.elapsed().as_secs_f64()
    );
    let next: Vec<_> = rs.iter().filter_map(|c| c.next.as_ref().map(|n| format!("  {}: {n}", c.name))).collect();
    if !next.is_empty() {
        println!("next steps (cairn does not manage the services):");
        next.iter().for_each(|n| println!("{n}"));
    }
    Ok(0)
}

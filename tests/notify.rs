//! Failure notifications for any job: with `CAIRN_WEBHOOK_URL` set, a
//! failed command POSTs a Slack-compatible message (its `text`) to a
//! receiver on loopback; a success posts nothing; a webhook that never
//! answers costs at most its timeout and one warning line, and the job's
//! exit code stands.

mod common;
use common::*;
use std::net::TcpListener;
use std::time::{Duration, Instant};

#[test]
fn a_failed_job_is_posted_and_a_success_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    state(&data, 1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());

    let missing = tmp.path().join("missing");
    let body = std::thread::scope(|sc| {
        let h = sc.spawn(|| common::http::receive_one(&listener));
        let (code, err) = fails(cairn(&missing).env("CAIRN_WEBHOOK_URL", &url).arg("prune"));
        assert_eq!(code, 10, "{err}");
        one_line(&err);
        h.join().unwrap()
    });
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["event"], "prune");
    assert_eq!(body["exit_code"], 10);
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("cairn prune FAILED") && text.contains("not a cairn repository"), "{text}");

    // A success: nothing is posted.
    ok(cairn(&repo).env("CAIRN_WEBHOOK_URL", &url).arg("backup").arg(&data));
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "a successful backup posted a notification");
}

#[test]
fn a_webhook_that_never_answers_costs_one_warning_and_its_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    // Accepts, then says nothing.
    let _held = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(60));
        drop(conns);
    });
    let start = Instant::now();
    let (code, err) = fails(cairn(&tmp.path().join("missing")).env("CAIRN_WEBHOOK_URL", &url).arg("check"));
    assert!(start.elapsed() < Duration::from_secs(30), "the webhook held the job {:?}", start.elapsed());
    assert_eq!(code, 10, "the job's own exit code stands: {err}");
    let lines: Vec<&str> = err.trim().lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("error: ") && lines[1].starts_with("warning: webhook"), "{err}");
}

//! A failed job tells the webhook in `CAIRN_WEBHOOK_URL` (Slack-compatible:
//! its `text` is the message), whatever the command: one wrapper around
//! every command, as for metrics. Commands working on a stack notify
//! through the stack file's own webhook (success or failure) and are left
//! to it. Delivery is bounded (`cairn::stack::notify::TIMEOUT`) and a
//! failure to deliver is a warning, never the job's result.

/// After `command` failed with `code` and `message`, POST it.
pub fn failure(command: &str, code: i32, message: &str) {
    let Some(url) = std::env::var("CAIRN_WEBHOOK_URL").ok().filter(|u| !u.is_empty()) else { return };
    let host = cairn::sys::hostname();
    let body = serde_json::json!({
        "text": format!("cairn {command} FAILED on {host} (exit {code}): {message}"),
        "event": command, "host": host, "ok": false, "exit_code": code, "error": message,
    });
    if let Err(e) = cairn::stack::notify::post(&url, &body) {
        eprintln!("warning: {e}; the job's own result stands");
    }
}

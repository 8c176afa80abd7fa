//! The stack's notification webhook: after every stack backup and restore,
//! success or failure, one JSON object is POSTed to the stack file's
//! `webhook` URL (README "Stack file" has its fields). A webhook that
//! cannot be reached is reported to the caller, never a reason to fail
//! the backup it reports on.

use std::time::Duration;

/// How long a webhook may take before it is given up.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// POST `body` to `url`; the error says why it was not delivered.
pub fn post(url: &str, body: &serde_json::Value) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).build().into();
    agent.post(url).send_json(body).map(|_| ()).map_err(|e| format!("webhook {url}: {e}"))
}

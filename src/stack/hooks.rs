//! Component hooks: a shell command run before a component is captured
//! (asking the application to pause writes, say) and one run after, with a
//! timeout. A hook runs as `sh -c COMMAND` in its own process group, with
//! its output sent to cairn's stderr (stdout may carry `--json`), and
//! `CAIRN_STACK`, `CAIRN_COMPONENT`, `CAIRN_HOOK` (`before`/`after`) and,
//! for `after`, `CAIRN_RESULT` (`ok`/`failed`) set. Past its timeout the
//! whole group is killed (SIGKILL), so a hook's children cannot outlive it.

use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a hook is told about itself.
pub struct HookEnv<'a> {
    pub stack: &'a str,
    pub component: &'a str,
    pub hook: &'a str,
    /// For `after`: whether the capture succeeded.
    pub result: Option<bool>,
}

/// Run `command`; an error says how it failed (exit status, signal,
/// timeout) in words fit to follow "before hook ".
pub fn run(command: &str, env: &HookEnv, timeout: Duration) -> Result<(), String> {
    let stderr = std::io::stderr().as_fd().try_clone_to_owned().map_err(|e| format!("cannot start: {e}"))?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stderr))
        .env("CAIRN_STACK", env.stack)
        .env("CAIRN_COMPONENT", env.component)
        .env("CAIRN_HOOK", env.hook)
        .process_group(0);
    if let Some(ok) = env.result {
        cmd.env("CAIRN_RESULT", if ok { "ok" } else { "failed" });
    }
    let mut child = cmd.spawn().map_err(|e| format!("{command:?} cannot start: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{command:?} failed ({status})")),
            Ok(None) if start.elapsed() >= timeout => {
                // The group: sh and whatever it started.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                return Err(format!(
                    "{command:?} was still running after its timeout of {}s and was killed: make it finish sooner or raise hook_timeout",
                    timeout.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{command:?}: cannot wait for it: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HookEnv<'static> {
        HookEnv { stack: "s", component: "c", hook: "before", result: None }
    }

    #[test]
    fn status_timeout_and_environment() {
        assert!(run("test \"$CAIRN_COMPONENT\" = c && test \"$CAIRN_HOOK\" = before", &env(), Duration::from_secs(5))
            .is_ok());
        let e = run("exit 3", &env(), Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("exit status: 3"), "{e}");
        let start = Instant::now();
        // The child of the shell is killed too, or the wait would not end.
        let e = run("sleep 30 & wait", &env(), Duration::from_millis(300)).unwrap_err();
        assert!(e.contains("timeout"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}

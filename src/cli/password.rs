//! The repository password: from a flag's file, a command, the
//! environment, or typed on the terminal.

use std::path::PathBuf;

/// Where the repository password comes from: --password-file, then
/// --password-command, CAIRN_PASSWORD, CAIRN_PASSWORD_FILE,
/// CAIRN_PASSWORD_COMMAND, then a prompt on the terminal.
pub struct Password {
    pub file: Option<PathBuf>,
    pub command: Option<String>,
}

impl Password {
    pub fn get(&self) -> cairn::Result<String> {
        get_password(&self.source("CAIRN_PASSWORD", "--password-file"), "repository password: ", false)
    }
    /// The password of a new repository (typed twice on a terminal).
    pub fn get_new(&self) -> cairn::Result<String> {
        get_password(&self.source("CAIRN_PASSWORD", "--password-file"), "new repository password: ", true)
    }
    fn source(&self, env: &'static str, flag: &'static str) -> PasswordSource {
        PasswordSource {
            flag_file: self.file.clone(),
            flag,
            env,
            command: self.command.clone(),
            command_flag: "--password-command",
        }
    }
}

/// A password given by a flag naming a file, or by the variables `env`
/// (the password) and `env`_FILE (a file holding it). A flag always wins
/// over the environment.
pub struct PasswordSource {
    pub flag_file: Option<PathBuf>,
    pub flag: &'static str,
    pub env: &'static str,
    /// `--password-command`, and that flag's name for messages.
    pub command: Option<String>,
    pub command_flag: &'static str,
}

/// The password from `src` in that order, else typed on the terminal (twice
/// when `confirm`); a trailing newline in a file is not part of it.
pub fn get_password(src: &PasswordSource, prompt: &str, confirm: bool) -> cairn::Result<String> {
    let read_file = |f: &std::path::Path, whence: String| -> cairn::Result<String> {
        let text = std::fs::read_to_string(f)
            .map_err(|e| cairn::Error::InvalidArgument(format!("{whence} {}: cannot read it: {e}", f.display())))?;
        Ok(text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_string())
    };
    if let Some(f) = &src.flag_file {
        return read_file(f, src.flag.to_string());
    }
    if let Some(c) = &src.command {
        return run_password_command(c, src.command_flag);
    }
    if let Ok(p) = std::env::var(src.env) {
        return Ok(p);
    }
    let file_var = format!("{}_FILE", src.env);
    if let Some(f) = std::env::var_os(&file_var) {
        return read_file(std::path::Path::new(&f), file_var);
    }
    let command_var = format!("{}_COMMAND", src.env);
    if let Ok(c) = std::env::var(&command_var) {
        return run_password_command(&c, &command_var);
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(cairn::Error::PasswordRequired);
    }
    let read = |p: &str| {
        rpassword::prompt_password(p)
            .map_err(|e| cairn::Error::InvalidArgument(format!("cannot read the password: {e}")))
    };
    let first = read(prompt)?;
    if confirm && read("again: ")? != first {
        return Err(cairn::Error::InvalidArgument("the two passwords differ: try again".into()));
    }
    Ok(first)
}

/// The first line a password command prints (`sh -c`); its stderr goes to
/// the terminal, so a secret manager can ask for its own passphrase.
fn run_password_command(command: &str, whence: &str) -> cairn::Result<String> {
    let bad = |why: String| cairn::Error::InvalidArgument(format!("{whence} {command:?}: {why}; fix the command"));
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| bad(format!("cannot run it ({e})")))?;
    if !out.status.success() {
        return Err(bad(format!("it failed ({})", out.status)));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| bad("its output is not UTF-8".into()))?;
    match text.lines().next() {
        Some(line) if !line.is_empty() => Ok(line.to_string()),
        _ => Err(bad("it printed nothing".into())),
    }
}

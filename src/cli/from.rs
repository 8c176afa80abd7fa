//! `--from-repo` and its password, for the commands that read another
//! repository (`copy`, `init --from-repo`).

use anyhow::Result;
use cairn::Repository;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct From {
    /// The other repository (or set CAIRN_FROM_REPOSITORY).
    #[arg(long, value_name = "DIR", env = "CAIRN_FROM_REPOSITORY")]
    pub from_repo: Option<PathBuf>,
    /// Read its password from this file. Without it:
    /// --from-password-command, CAIRN_FROM_PASSWORD, CAIRN_FROM_PASSWORD_FILE,
    /// CAIRN_FROM_PASSWORD_COMMAND, then a prompt.
    #[arg(long, value_name = "FILE", requires = "from_repo")]
    from_password_file: Option<PathBuf>,
    /// Run this shell command for its password.
    #[arg(long, value_name = "COMMAND", requires = "from_repo", conflicts_with = "from_password_file")]
    from_password_command: Option<String>,
}

impl From {
    /// Open the other repository (with its index when `index`).
    pub fn open(&self, index: bool, storage: &super::location::Storage) -> Result<Option<Repository>> {
        let Some(path) = &self.from_repo else { return Ok(None) };
        let backend = super::location::backend(Some(path.clone()), storage, true)
            .map_err(|e| anyhow::anyhow!("--from-repo: {e}"))?;
        let src = super::PasswordSource {
            flag_file: self.from_password_file.clone(),
            flag: "--from-password-file",
            env: "CAIRN_FROM_PASSWORD",
            command: self.from_password_command.clone(),
            command_flag: "--from-password-command",
        };
        let pw = || super::get_password(&src, "password of the --from-repo repository: ", false);
        let opened = match index {
            true => Repository::open(backend, Some(&pw)),
            false => Repository::open_without_index(backend, Some(&pw)),
        };
        match opened {
            Ok(repo) => Ok(Some(repo)),
            // The usual message names the destination's variables.
            Err(cairn::Error::PasswordRequired) => Err(cairn::Error::InvalidArgument(format!(
                "--from-repo {} is encrypted: set CAIRN_FROM_PASSWORD, pass --from-password-file FILE or --from-password-command CMD (or CAIRN_FROM_PASSWORD_FILE, CAIRN_FROM_PASSWORD_COMMAND), or run in a terminal",
                path.display()
            ))
            .into()),
            Err(e) => Err(e.into()),
        }
    }
}

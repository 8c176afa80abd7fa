//! `cairn completion`, `cairn man` and `cairn version`: what a packager or
//! a new shell needs, generated from the same clap definitions the parser
//! uses, so they never drift from the real flags.

use anyhow::Result;
use clap::CommandFactory;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cairn completion bash > /etc/bash_completion.d/cairn\n  cairn completion zsh > \"${fpath[1]}/_cairn\"\n  cairn completion fish > ~/.config/fish/completions/cairn.fish"
)]
pub struct Completion {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

impl Completion {
    pub fn run(self) -> Result<i32> {
        clap_complete::generate(self.shell, &mut super::Cli::command(), "cairn", &mut std::io::stdout());
        Ok(0)
    }
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cairn man | man -l -\n  cairn man --dir /usr/local/share/man/man1")]
pub struct Man {
    /// Write cairn.1 and one page per command (cairn-backup.1, ...) into
    /// this directory instead of printing cairn.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl Man {
    pub fn run(self) -> Result<i32> {
        let cmd = super::Cli::command();
        let Some(dir) = self.dir else {
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            return Ok(0);
        };
        if !dir.is_dir() {
            let msg = format!("man --dir {}: not a directory; create it first", dir.display());
            return Err(cairn::Error::InvalidArgument(msg).into());
        }
        clap_mangen::generate_to(cmd, &dir)
            .map_err(|e| anyhow::anyhow!("man --dir {}: cannot write the pages: {e}", dir.display()))?;
        println!("wrote the man pages into {}", dir.display());
        Ok(0)
    }
}

/// `cairn version`: the version, and what this build reads and writes.
pub fn version(json: bool) -> Result<i32> {
    if json {
        super::print_json(&serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"), "format_version": cairn::format::REPO_VERSION,
            "sqlite": rusqlite::version(), "os": std::env::consts::OS, "arch": std::env::consts::ARCH,
        }));
        return Ok(0);
    }
    println!("cairn {}", env!("CARGO_PKG_VERSION"));
    println!("repository format {} (reads 1 to {})", cairn::format::REPO_VERSION, cairn::format::REPO_VERSION);
    println!("SQLite {} (bundled)", rusqlite::version());
    println!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    Ok(0)
}

//! What `backup` reads: its source arguments, `--files-from`, `--stdin`, and
//! what files sources leave out (`--exclude` and its relatives), turned
//! into the library's source list and `Exclude`.

use anyhow::Result;
use cairn::source::files::exclude::Exclude;
use cairn::source::SourceSpec;
use cairn::Error;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Selection {
    /// Files: leave out entries matching this glob (repeatable): without
    /// `/` it matches an entry's name at any depth (`*.tmp`), with `/` the
    /// path below the source (`cache/**`). Excluded directories are not
    /// entered.
    #[arg(long, short = 'e', value_name = "GLOB")]
    exclude: Vec<String>,
    /// Files: --exclude ignoring case (`*.LOG` also leaves out `a.log`).
    #[arg(long, value_name = "GLOB")]
    iexclude: Vec<String>,
    /// Files: read --exclude globs from FILE, one per line (blank lines and
    /// lines starting with `#` ignored).
    #[arg(long, value_name = "FILE")]
    exclude_file: Vec<PathBuf>,
    /// Files: read --iexclude globs from FILE.
    #[arg(long, value_name = "FILE")]
    iexclude_file: Vec<PathBuf>,
    /// Files: leave out every directory holding a file called NAME
    /// (`.nobackup`, `CACHEDIR.TAG`).
    #[arg(long, value_name = "NAME")]
    exclude_if_present: Vec<String>,
    /// Files: do not cross into other file systems mounted below a source.
    #[arg(long, short = 'x')]
    one_file_system: bool,
    /// Read source arguments from FILE, one per line (blank lines and `#`
    /// comments ignored), besides those given.
    #[arg(long, value_name = "FILE")]
    files_from: Vec<PathBuf>,
    /// Back up standard input as one file (`pg_dump db | cairn backup
    /// --stdin --stdin-filename db.sql`).
    #[arg(long)]
    stdin: bool,
    /// With --stdin: the file's name in the snapshot.
    #[arg(long, value_name = "NAME", default_value = "stdin", requires = "stdin")]
    stdin_filename: String,
}

/// The lines of a list file that say something.
fn lines(flag: &str, file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::InvalidArgument(format!("{flag} {}: cannot read it ({e}); give a readable text file", file.display()))
    })?;
    Ok(text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(String::from)
        .collect())
}

fn all_lines(flag: &str, files: &[PathBuf]) -> Result<Vec<String>> {
    Ok(files.iter().map(|f| lines(flag, f)).collect::<Result<Vec<_>>>()?.concat())
}

impl Selection {
    /// What files sources leave out.
    pub fn exclude(&self) -> Result<Exclude> {
        let patterns = [self.exclude.clone(), all_lines("--exclude-file", &self.exclude_file)?].concat();
        let ipatterns = [self.iexclude.clone(), all_lines("--iexclude-file", &self.iexclude_file)?].concat();
        let mut e = Exclude::with_case(&patterns, &ipatterns).map_err(Error::InvalidArgument)?;
        for n in &self.exclude_if_present {
            if n.is_empty() || n.contains('/') {
                return Err(Error::InvalidArgument(format!(
                    "--exclude-if-present {n:?}: give a file name without '/' (`.nobackup`)"
                ))
                .into());
            }
        }
        e.if_present = self.exclude_if_present.clone();
        e.one_file_system = self.one_file_system;
        Ok(e)
    }

    /// The sources: the arguments, those of --files-from, and standard input.
    pub fn sources(&self, paths: &[PathBuf]) -> Result<Vec<SourceSpec>> {
        let mut specs: Vec<SourceSpec> = paths.iter().map(|p| SourceSpec::parse(p.as_os_str())).collect();
        let listed = all_lines("--files-from", &self.files_from)?;
        if !self.files_from.is_empty() && listed.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "--files-from {}: it lists no source; give one path per line",
                self.files_from[0].display()
            ))
            .into());
        }
        specs.extend(listed.iter().map(|l| SourceSpec::parse(l.as_ref())));
        if self.stdin {
            if std::io::stdin().is_terminal() {
                return Err(Error::InvalidArgument(
                    "--stdin: standard input is a terminal; pipe the data in (`pg_dump db | cairn backup --stdin`)"
                        .into(),
                )
                .into());
            }
            specs.push(cairn::source::stdin::spec(&self.stdin_filename));
        }
        Ok(specs)
    }
}

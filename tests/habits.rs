//! What restic users reach for without thinking: shell completions, man
//! pages, `version`, `--password-command`, `ls -l`, local times unless
//! `--utc`, and every command's help with an example.

mod common;
use common::*;
use std::fs;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.env_remove("CAIRN_REPOSITORY");
    c
}

#[test]
fn completions_man_pages_and_version() {
    let bash = ok(bin().args(["completion", "bash"]));
    assert!(bash.contains("--exclude-if-present") && bash.contains("complete -F"), "bash completion lacks flags");
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("cairn.bash");
    fs::write(&script, &bash).unwrap();
    let st = Command::new("bash").arg("-n").arg(&script).status().unwrap();
    assert!(st.success(), "bash cannot parse the completion script");
    assert!(ok(bin().args(["completion", "zsh"])).starts_with("#compdef cairn"));
    assert!(ok(bin().args(["completion", "fish"])).contains("complete -c cairn"));
    let (code, err) = fails(bin().args(["completion", "tcsh"]));
    assert_eq!(code, 2);
    few_lines(&err);

    let page = ok(bin().arg("man"));
    assert!(page.contains(".TH cairn 1") && page.contains("backup"), "{page}");
    let dir = tmp.path().join("man1");
    fs::create_dir(&dir).unwrap();
    ok(bin().args(["man", "--dir"]).arg(&dir));
    let backup = fs::read_to_string(dir.join("cairn-backup.1")).unwrap();
    assert!(backup.contains("exclude\\-if\\-present") || backup.contains("exclude-if-present"), "{backup}");
    let (code, err) = fails(bin().args(["man", "--dir"]).arg(tmp.path().join("missing")));
    assert_eq!(code, 1);
    one_line(&err);

    let v = ok(bin().arg("version"));
    let flag = ok(bin().arg("--version"));
    assert_eq!(v.lines().next().unwrap(), flag.trim(), "version and --version disagree");
    assert!(v.contains("repository format") && v.contains("SQLite"), "{v}");
}

#[test]
fn every_command_help_has_an_example() {
    let top = ok(bin().arg("--help"));
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 20, "{top}");
    for c in &commands {
        let help = ok(bin().args([c.as_str(), "--help"]));
        assert!(help.contains("Example"), "`cairn {c} --help` has no example:\n{help}");
        // Every example parses: its words, then --help, are accepted.
        let examples = help.lines().skip_while(|l| !l.starts_with("Example")).skip(1);
        for line in examples.filter_map(|l| l.split_once("cairn ").map(|x| x.1)) {
            let line = line.split(" | ").next().unwrap().split(" > ").next().unwrap().split("  (").next().unwrap();
            let words = shell_words(line);
            let out = run(bin().args(&words).arg("--help"));
            assert!(
                out.status.success(),
                "example `cairn {line}` does not parse: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Split a command line as a shell would, for the quoting examples use.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for ch in line.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => (quote, any) = (Some(ch), true),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (_, c) => (cur, any) = (cur + &c.to_string(), true),
        }
    }
    if any {
        words.push(cur);
    }
    words
}

#[test]
fn password_command_ls_long_and_local_times() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = (tmp.path().join("repo"), tmp.path().join("data"));
    init_small(&repo);
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut fs::metadata(data.join("run.sh")).unwrap().permissions(), 0o755);
    fs::set_permissions(data.join("run.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let t = filetime::FileTime::from_unix_time(1_767_225_600, 0); // 2026-01-01T00:00:00Z
    filetime::set_file_mtime(data.join("run.sh"), t).unwrap();
    backup(&repo, &[&data]);

    // The password from a command, for secret managers; a failing command is one line.
    let mut c = cairn(&repo);
    c.env_remove("CAIRN_PASSWORD").args(["--password-command", &format!("echo '{PASSWORD}'"), "snapshots"]);
    assert!(ok(&mut c).contains("1 snapshot(s)"));
    let mut c = cairn(&repo);
    c.env_remove("CAIRN_PASSWORD")
        .env("CAIRN_PASSWORD_COMMAND", format!("printf '%s\\n' '{PASSWORD}'"))
        .arg("snapshots");
    assert!(ok(&mut c).contains("1 snapshot(s)"));
    let mut c = cairn(&repo);
    let (code, err) = fails(c.env_remove("CAIRN_PASSWORD").args(["--password-command", "exit 3", "snapshots"]));
    assert_eq!(code, 1);
    one_line(&err);
    assert!(err.contains("--password-command"), "{err}");

    // ls -l: the rwx mode with setuid, and local times (TZ), or UTC with --utc.
    let long = ok(cairn(&repo).args(["ls", "-l", "latest"]).env("TZ", "Asia/Seoul"));
    let line = long.lines().find(|l| l.ends_with("/data/run.sh")).unwrap_or_else(|| panic!("{long}"));
    assert!(line.starts_with("-rwsr-xr-x"), "{line}");
    assert!(line.contains("2026-01-01 09:00:00 +09:00"), "not in the local zone: {line}");
    let utc = ok(cairn(&repo).args(["--utc", "ls", "-l", "latest"]).env("TZ", "Asia/Seoul"));
    assert!(utc.contains("2026-01-01 00:00:00 +00:00"), "{utc}");
    assert!(long.lines().any(|l| l.starts_with('d') && l.ends_with("/data")), "{long}");
}

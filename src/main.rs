//! The `cairn` command line. Parsing and printing only; the work is in the library.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            let code = e.downcast_ref::<cairn::Error>().map(|e| e.exit_code()).unwrap_or(1);
            eprintln!("error: {e:#}");
            code
        }
    };
    std::process::exit(code);
}

//! The `stylelearn` command line: one front end of the stylelearn engine. It parses arguments,
//! turns them into the library's settings, draws progress, handles Ctrl-C and SIGTERM, and
//! prints summaries and errors (with the flag to change).
mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    cli::progress::install_signal_handler();
    match cli::run(args) {
        Ok(cli::Finished::Done) => ExitCode::SUCCESS,
        Ok(cli::Finished::Stopped(msg)) => {
            eprintln!("{msg}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

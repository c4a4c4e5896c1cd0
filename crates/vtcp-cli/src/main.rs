//! `vtcp`: the vtcp command line.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vtcp_cli::decode::DecodeError;

/// vtcp: a userspace TCP engine, and tools around it.
#[derive(Parser)]
#[command(name = "vtcp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every TCP segment of a capture in tcpdump's style, with its
    /// checksum status, then a summary.
    Decode {
        /// A pcap or pcapng file (Ethernet, raw IP, Linux cooked, loopback).
        file: PathBuf,
        /// Print only the summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Simulate a transfer over a configurable link and summarise it.
    Sim(vtcp_cli::sim::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => {
            let mut out = io::stdout().lock();
            let mut err = io::stderr().lock();
            match vtcp_cli::sim::sim(&args, &mut out, &mut err) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => {
                    eprintln!("vtcp: the transfer did not complete intact");
                    ExitCode::FAILURE
                }
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("vtcp: writing output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Decode { file, quiet } => {
            let stdout = io::stdout().lock();
            let mut out = io::BufWriter::new(stdout);
            let result = vtcp_cli::decode::decode_file(&file, &mut out, quiet)
                .and_then(|_| out.flush().map_err(DecodeError::Output));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                // A closed pipe (`vtcp decode f | head`) is not worth a
                // message.
                Err(DecodeError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("vtcp: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

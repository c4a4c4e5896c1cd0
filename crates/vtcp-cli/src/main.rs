//! `vtcp`: the vtcp command line.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vtcp_cli::decode::DecodeError;

use vtcp_cli::complain;

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
    /// Run packetdrill scripts against the engine on a virtual clock (no
    /// root, no device) and report pass, differs, fail or unsupported.
    Drill(vtcp_cli::drill::DrillArgs),
    /// Serve echo, discard, chargen and HTTP on a TUN device until Ctrl-C,
    /// then print the counters (root).
    #[cfg(target_os = "linux")]
    Serve(vtcp_cli::device::ServeArgs),
    /// Netcat over vtcp on a TUN device: standard input to the
    /// connection, the connection to standard output (root).
    #[cfg(target_os = "linux")]
    Connect(vtcp_cli::device::ConnectArgs),
    /// Terminate every TCP flow that arrives on a TUN device and splice it
    /// to a kernel socket to the same destination (root).
    #[cfg(target_os = "linux")]
    Forward(vtcp_cli::device::ForwardArgs),
}

#[cfg(target_os = "linux")]
fn device_result(what: &str, r: Result<(), vtcp_cli::device::NetError>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            complain!("vtcp {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        #[cfg(target_os = "linux")]
        Command::Serve(args) => {
            device_result("serve", vtcp_cli::device::serve(&args, &mut io::stdout()))
        }
        #[cfg(target_os = "linux")]
        Command::Connect(args) => device_result("connect", vtcp_cli::device::connect(&args)),
        #[cfg(target_os = "linux")]
        Command::Forward(args) => device_result(
            "forward",
            vtcp_cli::device::forward(&args, &mut io::stdout()),
        ),
        Command::Drill(args) => match vtcp_cli::drill::drill(&args, &mut io::stdout()) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                complain!("vtcp drill: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Sim(args) => {
            let mut out = io::stdout().lock();
            match vtcp_cli::sim::sim(&args, &mut out, indicatif::ProgressDrawTarget::stderr()) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => {
                    complain!("vtcp: the transfer did not complete intact");
                    ExitCode::FAILURE
                }
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    complain!("vtcp: writing output: {e}");
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
                    complain!("vtcp: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

//! The lab's command (root):
//!
//! - `vtcp-lab capture DIR`: the Linux test vectors (see
//!   `vtcp_lab::capture`); `cargo xtask capture-vectors` runs it and adds
//!   tshark's decode.
//! - `vtcp-lab bench matrix [SECONDS]`: goodput over the relay, vtcp and
//!   Linux side by side (`vtcp_lab::bench::matrix_table`).
//! - `vtcp-lab bench throughput [SECONDS]`: a TUN device against a veth
//!   pair.
//! - `vtcp-lab bench point LOSS% REORDER% RTT_MS [SECONDS]`: one row of the
//!   matrix.
//! - `vtcp-lab bench echo [SECONDS [CONNECTIONS...]]`: 64-byte request and
//!   response through 100, 1,000 and 10,000 connections at once, the
//!   kernel serving against vtcp's blocking and async API
//!   (`vtcp_lab::echo`).
//! - `vtcp-lab echo-server ADDR`: the kernel's echo server of that
//!   benchmark, which it starts in a namespace of its own.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: vtcp-lab capture DIR | bench matrix [SECONDS] | bench throughput [SECONDS] \
     | bench point LOSS% REORDER% RTT_MS [SECONDS] | bench echo [SECONDS [CONNECTIONS...]]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(why) = vtcp_lab::unavailable() {
        eprintln!("vtcp-lab: cannot run the lab: {why}");
        return ExitCode::FAILURE;
    }
    match args.as_slice() {
        ["capture", dir] => capture(dir),
        ["echo-server", addr] => match addr.parse().map_err(std::io::Error::other) {
            Ok(addr) => match vtcp_lab::echo::serve(addr) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("vtcp-lab echo-server: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("vtcp-lab echo-server: {e}");
                ExitCode::from(2)
            }
        },
        ["bench", "echo", rest @ ..] => {
            let secs = rest.first().map_or(Ok(3.0), |s| s.parse::<f64>());
            let conns: Result<Vec<usize>, _> = rest.iter().skip(1).map(|s| s.parse()).collect();
            match (secs, conns) {
                (Ok(s), Ok(mut conns)) if s > 0.0 => {
                    if conns.is_empty() {
                        conns = vec![100, 1_000, 10_000];
                    }
                    match vtcp_lab::echo::echo(&conns, Duration::from_secs_f64(s)) {
                        Ok(rows) => {
                            print!("{}", vtcp_lab::echo::table(&rows));
                            ExitCode::SUCCESS
                        }
                        Err(e) => {
                            eprintln!("vtcp-lab: {e}");
                            ExitCode::FAILURE
                        }
                    }
                }
                _ => {
                    eprintln!("{USAGE}");
                    ExitCode::from(2)
                }
            }
        }
        ["bench", "point", loss, reorder, rtt, rest @ ..] if rest.len() <= 1 => {
            let num = |s: &str| s.trim_end_matches('%').parse::<f64>().ok();
            let (Some(loss), Some(reorder), Some(rtt)) = (num(loss), num(reorder), num(rtt)) else {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            };
            let secs = rest.first().and_then(|s| num(s)).unwrap_or(3.0);
            let p = vtcp_lab::bench::Point {
                loss: loss / 100.0,
                reorder: reorder / 100.0,
                rtt: Duration::from_secs_f64(rtt / 1000.0),
            };
            match vtcp_lab::bench::measure(p, Duration::from_secs_f64(secs), 100) {
                Ok(r) => {
                    print!("{}", vtcp_lab::bench::matrix_table(&[r]));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("vtcp-lab: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        ["bench", what, rest @ ..] if rest.len() <= 1 => {
            let secs = rest.first().map_or(Ok(3.0), |s| s.parse::<f64>());
            match secs {
                Ok(s) if s > 0.0 => bench(what, Duration::from_secs_f64(s)),
                _ => {
                    eprintln!("{USAGE}");
                    ExitCode::from(2)
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn bench(what: &str, time: Duration) -> ExitCode {
    use vtcp_lab::bench;
    match what {
        "matrix" => {
            let mut rows = Vec::new();
            for (i, p) in bench::points().into_iter().enumerate() {
                match bench::measure(p, time, 100 + i as u64) {
                    Ok(r) => {
                        eprintln!(
                            "{}",
                            bench::matrix_table(std::slice::from_ref(&r))
                                .lines()
                                .last()
                                .unwrap_or("")
                        );
                        rows.push(r);
                    }
                    Err(e) => {
                        eprintln!("vtcp-lab: {p:?}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            print!("{}", bench::matrix_table(&rows));
            ExitCode::SUCCESS
        }
        "throughput" => match bench::throughput(time) {
            Ok(t) => {
                print!("{}", t.table());
                let veth = t.get("kernel → kernel, veth, offloads off");
                println!(
                    "\nagainst veth without offloads: plain TUN receiving {:.0} %, sending {:.0} %; \
                     with offloads receiving {:.0} %, sending {:.0} %",
                    100.0 * t.get("kernel → vtcp, plain TUN") / veth,
                    100.0 * t.get("vtcp → kernel, plain TUN") / veth,
                    100.0 * t.get("kernel → vtcp, TUN, offloads (IFF_VNET_HDR)") / veth,
                    100.0 * t.get("vtcp → kernel, TUN, offloads (IFF_VNET_HDR)") / veth,
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vtcp-lab: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn capture(dir: &str) -> ExitCode {
    let dir = PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("vtcp-lab: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for (i, v) in vtcp_lab::capture::VARIANTS.iter().enumerate() {
        // A variant whose seeded loss happened to miss every data segment
        // is run again with the next seed: the vectors must show recovery.
        let mut seed = 1 + i as u64 * 100;
        loop {
            match vtcp_lab::capture::capture(&dir, v, seed) {
                Ok(again) if again > 0 => {
                    eprintln!("{}: done ({again} data segments sent again)", v.stem);
                    break;
                }
                Ok(_) if seed < 1 + i as u64 * 100 + 5 => seed += 1,
                Ok(_) => {
                    eprintln!("vtcp-lab: {}: no retransmission in five seeds", v.stem);
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("vtcp-lab: {}: {e}", v.stem);
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}

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
//! - `vtcp-lab bench flows [SECONDS [FLOWS...]]`: 1, 4, 16 and 64 flows at once on
//!   a plain TUN device of one queue and of two (a vtcp stack per queue),
//!   both ways, beside two kernels over a veth pair, with the CPU seconds
//!   per Gbit of this process and of the machine
//!   (`vtcp_lab::bench::flows`).
//! - `vtcp-lab bench fairness [SECONDS [CONTROLLER...]]`: two flows at once
//!   through one 100 Mbit/s bottleneck with a 100-packet queue and a 20 ms
//!   base RTT: vtcp with each controller named (of
//!   `vtcp_sim::Controller::ALL`) beside Linux Cubic and Linux BBR,
//!   and Linux beside Linux; shares and the RTTs the flows see
//!   (`vtcp_lab::fairness`).
//! - `vtcp-lab soak MINUTES`: bulk transfers both ways, request/response
//!   exchanges and connections opened and closed in a loop, all at once
//!   against the kernel, a line every 5 s; a connection without progress
//!   for 5 s fails it (`vtcp_lab::soak`).
//! - `vtcp-lab diff run FILE...`: differential scripts against Linux and
//!   vtcp, the two traces side by side and where they differ
//!   (`vtcp_lab::diff`).
//! - `vtcp-lab diff campaign --time SECS --seed N [--out DIR]`: random
//!   scripts from seed N on for SECS seconds; each script with a
//!   difference filed in DIR under its class; the totals.
//! - `vtcp-lab echo-server ADDR`: the kernel's echo server of that
//!   benchmark, which it starts in a namespace of its own.

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: vtcp-lab capture DIR | bench matrix [SECONDS] | bench throughput [SECONDS] \
     | bench point LOSS% REORDER% RTT_MS [SECONDS] | bench echo [SECONDS [CONNECTIONS...]] \
     | bench flows [SECONDS [FLOWS...]] | bench fairness [SECONDS [CONTROLLER...]] \
     | soak MINUTES | diff run FILE... | diff campaign --time SECS --seed N [--out DIR] \
     | echo-server ADDR";

/// Why the command failed: printed once, by `main`.
enum Failure {
    /// The arguments do not fit: the usage, exit status 2.
    Usage,
    /// The run failed: the message, exit status 1.
    Run(String),
}

/// A run failure, its message prefixed by what failed.
fn failed(what: impl Display, e: impl Display) -> Failure {
    Failure::Run(format!("{what}: {e}"))
}

/// What the arguments ask for.
enum Command<'a> {
    Capture(&'a str),
    EchoServer(std::net::SocketAddr),
    Echo(Duration, Vec<usize>),
    Point(vtcp_lab::bench::Point, Duration),
    Matrix(Duration),
    Throughput(Duration),
    Flows(Duration, Vec<usize>),
    Fairness(Duration, Vec<vtcp_sim::Controller>),
    Soak(Duration),
    DiffRun(&'a [&'a str]),
    DiffCampaign(Duration, u64, Option<&'a str>),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Arguments first: a usage error needs no lab.
    let outcome = parse(&args).and_then(|command| match vtcp_lab::unavailable() {
        Some(why) => Err(failed("cannot run the lab", why)),
        None => run(command),
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage) => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("vtcp-lab: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A duration in seconds, positive, 3 when absent.
fn seconds(arg: Option<&&str>) -> Result<Duration, Failure> {
    let secs = arg.map_or(Ok(3.0), |s| s.parse::<f64>());
    match secs {
        Ok(s) if s > 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
        _ => Err(Failure::Usage),
    }
}

/// The numbers after a benchmark's seconds (connections, flows).
fn counts(rest: &[&str]) -> Result<Vec<usize>, Failure> {
    rest.iter()
        .skip(1)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| Failure::Usage)
}

fn parse<'a>(args: &'a [&'a str]) -> Result<Command<'a>, Failure> {
    Ok(match args {
        ["capture", dir] => Command::Capture(dir),
        ["echo-server", addr] => Command::EchoServer(addr.parse().map_err(|_| Failure::Usage)?),
        ["bench", "echo", rest @ ..] => Command::Echo(seconds(rest.first())?, counts(rest)?),
        ["bench", "point", loss, reorder, rtt, rest @ ..] if rest.len() <= 1 => {
            // A percentage or a time: finite, not negative (a negative
            // time would panic in Duration).
            let num = |s: &str| {
                let v = s.trim_end_matches('%').parse::<f64>().ok()?;
                (v.is_finite() && v >= 0.0).then_some(v)
            };
            let (Some(loss), Some(reorder), Some(rtt)) = (num(loss), num(reorder), num(rtt)) else {
                return Err(Failure::Usage);
            };
            let p = vtcp_lab::bench::Point {
                loss: loss / 100.0,
                reorder: reorder / 100.0,
                rtt: Duration::from_secs_f64(rtt / 1000.0),
            };
            Command::Point(p, seconds(rest.first())?)
        }
        ["bench", "matrix", rest @ ..] if rest.len() <= 1 => {
            Command::Matrix(seconds(rest.first())?)
        }
        ["bench", "throughput", rest @ ..] if rest.len() <= 1 => {
            Command::Throughput(seconds(rest.first())?)
        }
        ["bench", "flows", rest @ ..] => {
            let counts = counts(rest)?;
            if counts.contains(&0) {
                return Err(Failure::Usage);
            }
            Command::Flows(seconds(rest.first())?, counts)
        }
        ["bench", "fairness", rest @ ..] => {
            let time = rest
                .first()
                .map_or(Ok(Duration::from_secs(10)), |s| seconds(Some(s)))?;
            let mut controllers = Vec::new();
            for name in rest.iter().skip(1) {
                match name.parse::<vtcp_sim::Controller>() {
                    Ok(c) => controllers.push(c),
                    Err(e) => {
                        eprintln!("{e}");
                        return Err(Failure::Usage);
                    }
                }
            }
            if controllers.is_empty() {
                controllers = vtcp_lab::fairness::DEFAULT_CONTROLLERS.to_vec();
            }
            Command::Fairness(time, controllers)
        }
        ["diff", "run", files @ ..] if !files.is_empty() => Command::DiffRun(files),
        ["diff", "campaign", rest @ ..] => {
            let (mut time, mut seed, mut out) = (None, None, None);
            for pair in rest.chunks(2) {
                match pair {
                    ["--time", t] => time = Some(seconds(Some(t))?),
                    ["--seed", n] => seed = Some(n.parse().map_err(|_| Failure::Usage)?),
                    ["--out", dir] => out = Some(*dir),
                    _ => return Err(Failure::Usage),
                }
            }
            match (time, seed) {
                (Some(t), Some(n)) => Command::DiffCampaign(t, n, out),
                _ => return Err(Failure::Usage),
            }
        }
        ["soak", minutes] => match minutes.parse::<f64>() {
            Ok(m) if m > 0.0 && m <= 24.0 * 60.0 => {
                Command::Soak(Duration::from_secs_f64(m * 60.0))
            }
            _ => return Err(Failure::Usage),
        },
        _ => return Err(Failure::Usage),
    })
}

fn run(command: Command<'_>) -> Result<(), Failure> {
    match command {
        Command::Capture(dir) => capture(dir),
        Command::EchoServer(addr) => {
            vtcp_lab::echo::serve(addr).map_err(|e| failed("echo-server", e))
        }
        Command::Echo(time, mut conns) => {
            if conns.is_empty() {
                conns = vec![100, 1_000, 10_000];
            }
            let rows = vtcp_lab::echo::echo(&conns, time).map_err(|e| failed("bench echo", e))?;
            print!("{}", vtcp_lab::echo::table(&rows));
            Ok(())
        }
        Command::Point(p, time) => {
            let r = vtcp_lab::bench::measure(p, time, 100).map_err(|e| failed("bench point", e))?;
            print!("{}", vtcp_lab::bench::matrix_table(&[r]));
            Ok(())
        }
        Command::Matrix(time) => matrix(time),
        Command::Throughput(time) => throughput(time),
        Command::Flows(time, mut counts) => {
            if counts.is_empty() {
                counts = vec![1, 4, 16, 64];
            }
            let rows = vtcp_lab::bench::flows(&counts, &[1, 2], time)
                .map_err(|e| failed("bench flows", e))?;
            print!("{}", vtcp_lab::bench::flows_table(&rows));
            Ok(())
        }
        Command::Fairness(time, controllers) => fairness(time, &controllers),
        Command::Soak(time) => soak(time),
        Command::DiffRun(files) => diff_run(files),
        Command::DiffCampaign(time, seed, out) => diff_campaign(time, seed, out),
    }
}

fn diff_run(files: &[&str]) -> Result<(), Failure> {
    use vtcp_lab::diff;
    let mut lab = diff::linux::LinuxLab::new().map_err(|e| failed("diff: the namespace", e))?;
    let mut differing = 0;
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| failed(file, e))?;
        let script = diff::script::Script::parse(&text).map_err(|e| failed(file, e))?;
        let pair = diff::run_pair(&mut lab, &script, 0).map_err(|e| failed(file, e))?;
        println!("== {file}");
        print!(
            "{}",
            diff::compare::side_by_side(&script, &pair.linux, &pair.vtcp)
        );
        match &pair.difference {
            Some(d) => {
                differing += 1;
                println!("DIFFERS at steps {:?}: {}", d.steps, d.signature);
            }
            None => println!("agrees"),
        }
    }
    println!("{differing} of {} scripts differ", files.len());
    Ok(())
}

fn diff_campaign(time: Duration, seed: u64, out: Option<&str>) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let totals = vtcp_lab::diff::campaign(time, seed, out.map(std::path::Path::new), |class| {
        eprintln!("new class: {class}");
    })
    .map_err(|e| failed("diff campaign", e))?;
    println!(
        "{} scripts, {} steps, {} with differences, {} classes, in {:.0} s (seeds {seed}..{})",
        totals.scripts,
        totals.steps,
        totals.differing,
        totals.classes.len(),
        started.elapsed().as_secs_f64(),
        seed + totals.scripts,
    );
    for (class, n) in &totals.classes {
        println!("{n:6}  {class}");
    }
    Ok(())
}

fn fairness(time: Duration, controllers: &[vtcp_sim::Controller]) -> Result<(), Failure> {
    use vtcp_lab::fairness;
    let names =
        |cs: &[vtcp_sim::Controller]| cs.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
    println!(
        "fairness: {} s a pair, {} Mbit/s bottleneck, {} ms base RTT, a queue of {} packets \
         ({:.1} ms), no random loss; vtcp controllers here: {}; measured: {}",
        time.as_secs_f64(),
        fairness::BOTTLENECK_BPS / 1_000_000,
        2 * fairness::ONE_WAY_DELAY.as_millis(),
        fairness::QUEUE_PACKETS,
        fairness::QUEUE_PACKETS as f64 * 1520.0 * 8.0 / fairness::BOTTLENECK_BPS as f64 * 1e3,
        names(&vtcp_sim::Controller::ALL),
        names(controllers),
    );
    let vtcp = controllers
        .iter()
        .map(|c| (c.name().to_owned(), c.stack_config()))
        .collect();
    let rows = fairness::fairness(time, vtcp).map_err(|e| failed("bench fairness", e))?;
    print!("{}", fairness::table(&rows));
    Ok(())
}

fn soak(time: Duration) -> Result<(), Failure> {
    use vtcp_lab::soak;
    println!(
        "soak for {:.1} min: {} bulk connections each way, {} request/response connections each \
         way, an open/close loop each way; a stall of 5 s fails",
        time.as_secs_f64() / 60.0,
        soak::BULK_FLOWS,
        soak::EXCHANGE_FLOWS,
    );
    let last = soak::soak(soak::Soak::new(time), &mut std::io::stdout())
        .map_err(|why| failed("soak failed", why))?;
    println!(
        "soak passed: {:.1} GiB kernel->vtcp, {:.1} GiB vtcp->kernel, {} exchanges, {} open/close \
         cycles, longest stall {:.2} s ({})",
        last.to_vtcp as f64 / f64::from(1u32 << 30),
        last.to_kernel as f64 / f64::from(1u32 << 30),
        last.exchanges,
        last.cycles,
        last.longest_stall.as_secs_f64(),
        last.longest_stall_flow,
    );
    Ok(())
}

fn matrix(time: Duration) -> Result<(), Failure> {
    use vtcp_lab::bench;
    let mut rows = Vec::new();
    for (i, p) in bench::points().into_iter().enumerate() {
        let r = bench::measure(p, time, 100 + i as u64).map_err(|e| failed(format!("{p:?}"), e))?;
        // Each row as it is measured; the whole table at the end.
        let table = bench::matrix_table(std::slice::from_ref(&r));
        eprintln!("{}", table.lines().last().unwrap_or(""));
        rows.push(r);
    }
    print!("{}", bench::matrix_table(&rows));
    Ok(())
}

fn throughput(time: Duration) -> Result<(), Failure> {
    let t = vtcp_lab::bench::throughput(time).map_err(|e| failed("bench throughput", e))?;
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
    Ok(())
}

fn capture(dir: &str) -> Result<(), Failure> {
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).map_err(|e| failed(dir.display(), e))?;
    for (i, v) in vtcp_lab::vectors::VARIANTS.iter().enumerate() {
        // A variant whose seeded loss happened to miss every data segment
        // is run again with the next seed: the vectors must show recovery.
        let first = 1 + i as u64 * 100;
        let mut done = false;
        for seed in first..first + 5 {
            let again = vtcp_lab::vectors::capture(&dir, v, seed).map_err(|e| failed(v.stem, e))?;
            if again > 0 {
                eprintln!("{}: done ({again} data segments sent again)", v.stem);
                done = true;
                break;
            }
        }
        if !done {
            return Err(failed(v.stem, "no retransmission in five seeds"));
        }
    }
    Ok(())
}

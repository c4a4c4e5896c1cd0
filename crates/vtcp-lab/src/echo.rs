//! Request/response through many connections at once: what a server on
//! vtcp's facade serves, against the kernel serving the same client.
//!
//! The client is the kernel's, in a namespace: `conns` connections, each
//! sending a 64-byte request and waiting for its echo, again and again,
//! for a fixed time (tokio tasks on two worker threads, so the client does
//! not need a thread per connection). The servers echo with a thread per
//! connection on the blocking API, or with a task per connection on the
//! async API (vtcp's `async_net`, on tokio):
//!
//! - `kernel`: a kernel echo server over a veth pair, threads;
//! - `vtcp blocking`: vtcp's `TcpListener`/`TcpStream` on a TUN device;
//! - `vtcp async`: vtcp's `async_net` on the same TUN device.
//!
//! Round trips per second and the median and 99th percentile of each
//! round trip's time, side by side in one run (this machine is noisy:
//! ratios hold, absolute figures do not).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vtcp_tun::netns::Netns;

use crate::kernel::IO_TIMEOUT;
use crate::topo::PEER_V4;

/// The size of a request and of its echo.
pub const MESSAGE: usize = 64;

/// Stack size of a server thread: an echo loop needs little.
const THREAD_STACK: usize = 64 * 1024;

/// One server at one number of connections.
#[derive(Clone, Debug)]
pub struct EchoRow {
    /// Which server.
    pub server: &'static str,
    /// Concurrent connections.
    pub conns: usize,
    /// Round trips per second, all connections together.
    pub per_sec: f64,
    /// Median round-trip time.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// The markdown table of `rows`.
pub fn table(rows: &[EchoRow]) -> String {
    let mut s = String::from(
        "| connections | server | round trips/s | p50 (ms) | p99 (ms) |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        s += &format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} |\n",
            r.conns,
            r.server,
            r.per_sec,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        );
    }
    s
}

/// Room for `conns` sockets of the client (and the vtcp server's device):
/// raises the soft open-file limit as far as the hard one allows. The
/// kernel's echo server runs in a process of its own ([`serve`]), so the
/// client's process never needs two sockets per connection.
fn raise_fd_limit(conns: usize) -> io::Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let want = (conns + 512) as u64;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard).map_err(io::Error::from)?;
    }
    if hard < want {
        return Err(io::Error::other(format!(
            "{conns} connections need {want} open files; the hard limit is {hard}"
        )));
    }
    Ok(())
}

/// The kernel's echo server at `addr` in the current namespace, a thread
/// per connection, until its standard input closes (`vtcp-lab
/// echo-server ADDR`, which [`echo`] starts inside the server's
/// namespace). Prints `ready` once it listens.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    raise_fd_limit(20_000).or_else(|_| raise_fd_limit(0))?;
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(4096)?;
    let listener = std::net::TcpListener::from(s);
    std::thread::spawn(|| {
        // The parent closes our standard input when it is done.
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        std::process::exit(0);
    });
    println!("ready");
    io::stdout().flush()?;
    loop {
        let (s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || echo_blocking(s))?;
    }
}

/// Every server at every number of connections, `time` each.
pub fn echo(conns: &[usize], time: Duration) -> io::Result<Vec<EchoRow>> {
    raise_fd_limit(conns.iter().copied().max().unwrap_or(0))?;
    let mut rows = Vec::new();
    for &n in conns {
        rows.push(kernel_server(n, time)?);
        rows.push(vtcp_server(n, time, false)?);
        rows.push(vtcp_server(n, time, true)?);
        eprint!("{}", table(&rows[rows.len() - 3..]));
    }
    Ok(rows)
}

/// The client: `conns` connections from inside `ns` to `to`, request and
/// echo for `time`; the row's figures.
fn client(ns: &Netns, to: SocketAddr, conns: usize, time: Duration) -> io::Result<(f64, Vec<u32>)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sockets = ns.enter(|| {
        (0..conns)
            .map(|_| Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)))
            .collect::<io::Result<Vec<_>>>()
    })??;
    let mut streams = Vec::with_capacity(conns);
    for s in sockets {
        s.set_tcp_nodelay(true)?;
        s.connect_timeout(&to.into(), IO_TIMEOUT)?;
        let s: std::net::TcpStream = s.into();
        s.set_nonblocking(true)?;
        streams.push(s);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .enable_time()
        .build()?;
    rt.block_on(async move {
        let start = Instant::now();
        let end = start + time;
        let mut tasks = Vec::with_capacity(conns);
        for s in streams {
            let mut s = tokio::net::TcpStream::from_std(s)?;
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::new();
                let request = [7u8; MESSAGE];
                let mut echo = [0u8; MESSAGE];
                while Instant::now() < end {
                    let t = Instant::now();
                    let round = async {
                        s.write_all(&request).await?;
                        s.read_exact(&mut echo).await
                    };
                    tokio::time::timeout(IO_TIMEOUT, round)
                        .await
                        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
                    times.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                }
                s.shutdown().await?;
                io::Result::Ok(times)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.map_err(io::Error::other)??);
        }
        let per_sec = all.len() as f64 / start.elapsed().as_secs_f64();
        Ok((per_sec, all))
    })
}

fn row(server: &'static str, conns: usize, per_sec: f64, mut times: Vec<u32>) -> EchoRow {
    times.sort_unstable();
    let at = |q: f64| {
        let i = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len().max(1)) - 1;
        Duration::from_micros(u64::from(times.get(i).copied().unwrap_or(0)))
    };
    EchoRow {
        server,
        conns,
        per_sec,
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Echoes on a blocking stream until the peer closes.
fn echo_blocking(mut s: impl Read + Write) -> io::Result<()> {
    let mut buf = [0u8; MESSAGE];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n])?;
    }
}

/// The kernel serving over a veth pair, a thread per connection, in a
/// process of its own ([`serve`], started as `vtcp-lab echo-server`).
fn kernel_server(conns: usize, time: Duration) -> io::Result<EchoRow> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let (a, b) = crate::bench::veth_pair()?;
    let to = SocketAddr::new(PEER_V4, 7301);
    let mut child = Command::new("ip")
        .args(["netns", "exec", b.name()])
        .arg(std::env::current_exe()?)
        .args(["echo-server", &to.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut ready = String::new();
    if let Some(out) = child.stdout.take() {
        io::BufReader::new(out).read_line(&mut ready)?;
    }
    if ready.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other(
            "the kernel echo server did not start (is this the vtcp-lab binary?)",
        ));
    }
    let result = client(&a, to, conns, time);
    drop(child.stdin.take());
    child.wait()?;
    let (per_sec, times) = result?;
    Ok(row("kernel (veth), threads", conns, per_sec, times))
}

/// vtcp serving on a TUN device, a thread per connection (`tasks` false)
/// or a tokio task per connection.
fn vtcp_server(conns: usize, time: Duration, tasks: bool) -> io::Result<EchoRow> {
    let (drivers, ns) = crate::bench::tun_stacks(false, 1)?;
    let net = drivers[0].net().clone();
    let to = SocketAddr::new(PEER_V4, 7302);
    let listener = vtcp::TcpListener::bind_with_backlog(&net, to, 4096)?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || -> io::Result<()> {
            if tasks {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_time()
                    .build()?;
                let listener = vtcp::async_net::TcpListener::from(listener);
                rt.block_on(async move {
                    while !stop.load(Ordering::Acquire) {
                        let accepted =
                            tokio::time::timeout(Duration::from_millis(50), listener.accept())
                                .await;
                        let Ok(accepted) = accepted else {
                            continue;
                        };
                        let (mut s, _) = accepted?;
                        tokio::spawn(async move {
                            let mut buf = [0u8; MESSAGE];
                            loop {
                                let n = s.read(&mut buf).await?;
                                if n == 0 {
                                    return io::Result::Ok(());
                                }
                                s.write_all(&buf[..n]).await?;
                            }
                        });
                    }
                    Ok(())
                })
            } else {
                while !stop.load(Ordering::Acquire) {
                    if let Some((s, _)) = listener.accept_timeout(Duration::from_millis(50))? {
                        s.set_read_timeout(Some(IO_TIMEOUT))?;
                        std::thread::Builder::new()
                            .stack_size(THREAD_STACK)
                            .spawn(move || echo_blocking(s))?;
                    }
                }
                Ok(())
            }
        })
    };
    let result = client(&ns, to, conns, time);
    stop.store(true, Ordering::Release);
    server
        .join()
        .map_err(|_| io::Error::other("the server panicked"))??;
    let (per_sec, times) = result?;
    let name = if tasks {
        "vtcp (TUN), async tasks"
    } else {
        "vtcp (TUN), blocking threads"
    };
    Ok(row(name, conns, per_sec, times))
}

//! The async sockets (feature `tokio`): echo, half-close, refused and
//! reset connections, and many tasks on two stacks wired back to back.
#![cfg(feature = "tokio")]

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use vtcp::async_net::{TcpListener, TcpStream};
use vtcp::{NetStack, StackConfig};

const A: [u8; 4] = [198, 18, 1, 1];
const B: [u8; 4] = [198, 18, 1, 2];

fn pair() -> (NetStack, NetStack) {
    NetStack::back_to_back(
        (StackConfig::default(), A.into()),
        (StackConfig::default(), B.into()),
        |_, _, _| true,
    )
    .unwrap()
}

fn at_b(port: u16) -> SocketAddr {
    SocketAddr::new(B.into(), port)
}

const LIMIT: Duration = Duration::from_secs(60);

/// Two stacks and a connection between them on `port` of B: the client's
/// end and the server's.
async fn connected(port: u16) -> ((NetStack, NetStack), TcpStream, TcpStream) {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, at_b(port)).unwrap();
    let c = TcpStream::connect(&a, at_b(port)).await.unwrap();
    let (s, _) = listener.accept().await.unwrap();
    ((a, b), c, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_many_tasks_concurrently() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, at_b(7)).unwrap();
    const CLIENTS: usize = 32;
    let server = tokio::spawn(async move {
        for _ in 0..CLIENTS {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(&mut s);
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                s.shutdown().await.unwrap();
            });
        }
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let a = a.clone();
            tokio::spawn(async move {
                let c = TcpStream::connect(&a, at_b(7)).await.unwrap();
                let data: Vec<u8> = (0..100_000 + i * 1000).map(|j| (j ^ i) as u8).collect();
                let (mut r, mut w) = tokio::io::split(c);
                let sent = data.clone();
                let writer = tokio::spawn(async move {
                    w.write_all(&sent).await.unwrap();
                    w.shutdown().await.unwrap();
                });
                let mut echoed = Vec::new();
                r.read_to_end(&mut echoed).await.unwrap();
                writer.await.unwrap();
                assert!(
                    echoed == data,
                    "client {i}: {} of {}",
                    echoed.len(),
                    data.len()
                );
            })
        })
        .collect();
    timeout(LIMIT, async {
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
    })
    .await
    .expect("deadlock?");
    assert_eq!(b.counters().connections_opened, CLIENTS as u64);
}

#[tokio::test]
async fn refused_and_reset() {
    let (a, b) = pair();
    let e = timeout(LIMIT, TcpStream::connect(&a, at_b(9)))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);

    let listener = TcpListener::bind(&b, at_b(9)).unwrap();
    let mut c = TcpStream::connect(&a, at_b(9)).await.unwrap();
    let (s, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    vtcp::TcpStream::from(s).abort();
    let e = timeout(LIMIT, c.read(&mut [0u8; 4]))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn a_pending_read_wakes_on_data_and_on_end_of_file() {
    let (_stacks, mut c, mut s) = connected(10).await;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.map(|_| got)
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.write_all(b"late").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.shutdown().await.unwrap();
    let got = timeout(LIMIT, reader).await.unwrap().unwrap().unwrap();
    assert_eq!(got, b"late");
}

#[tokio::test]
async fn nodelay_and_ttl_are_set_and_read_back() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, at_b(9)).unwrap();
    let accept = tokio::spawn(async move { listener.accept().await.unwrap() });
    let client = timeout(LIMIT, TcpStream::connect(&a, at_b(9)))
        .await
        .unwrap()
        .unwrap();
    let _server = accept.await.unwrap();
    assert!(!client.nodelay().unwrap());
    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    assert_eq!(client.ttl().unwrap(), 64);
    client.set_ttl(9).unwrap();
    assert_eq!(client.ttl().unwrap(), 9);
}

/// Everything `r` gives until end of file, within [`LIMIT`].
async fn read_all(r: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    timeout(LIMIT, r.read_to_end(&mut got))
        .await
        .expect("end of file in time")
        .expect("no error");
    got
}

/// A transparent listener takes a connection to an address the stack
/// does not own, and the stream says where the peer meant to go.
#[tokio::test]
async fn a_transparent_listener_takes_connections_to_any_address() {
    let (a, b) = pair();
    let listener = TcpListener::bind_transparent(&b, 16).unwrap();
    let elsewhere: SocketAddr = "198.18.7.7:4444".parse().unwrap();
    let mut c = timeout(LIMIT, TcpStream::connect(&a, elsewhere))
        .await
        .unwrap()
        .unwrap();
    let (mut s, peer) = timeout(LIMIT, listener.accept()).await.unwrap().unwrap();
    assert_eq!(s.local_addr().unwrap(), elsewhere);
    assert_eq!(peer, c.local_addr().unwrap());
    assert_eq!(c.peer_addr().unwrap(), elsewhere);
    c.write_all(b"to anywhere").await.unwrap();
    c.shutdown().await.unwrap();
    assert_eq!(read_all(&mut s).await, b"to anywhere");
}

/// `abort` resets: the peer's read fails with `ConnectionReset`, our own
/// with `ConnectionAborted`.
#[tokio::test]
async fn abort_resets_the_connection() {
    let (_stacks, mut c, mut s) = connected(11).await;
    s.abort();
    let e = timeout(LIMIT, c.read(&mut [0u8; 4]))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    let e = s.read(&mut [0u8; 4]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
}

/// A SYN that is never answered: `connect_timeout` gives up with
/// `TimedOut` naming the address, and the half-open connection goes.
#[tokio::test]
async fn connect_timeout_gives_up_and_forgets_the_half_open_connection() {
    let (a, _b) = NetStack::back_to_back(
        (StackConfig::default(), A.into()),
        (StackConfig::default(), B.into()),
        // Port 12 is a black hole.
        |_, _, seg| seg.get(2..4) != Some(&12u16.to_be_bytes()[..]),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let e = TcpStream::connect_timeout(&a, at_b(12), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(e.to_string().contains(&at_b(12).to_string()), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < LIMIT);
    let gone = timeout(LIMIT, async {
        while a.connections() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "{} connections left", a.connections());
}

/// The halves of `into_split` go to two tasks: the write half's
/// `shutdown` (and its drop) sends FIN while the read half still reads;
/// halves of one stream reunite, halves of two do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_halves_read_and_write_apart_and_reunite() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, at_b(13)).unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = s.into_split();
        tokio::io::copy(&mut r, &mut w).await.unwrap();
        // Dropping the write half sends FIN.
        drop(w);
        r
    });
    let c = TcpStream::connect(&a, at_b(13)).await.unwrap();
    let local = c.local_addr().unwrap();
    let (mut r, mut w) = c.into_split();
    assert_eq!(
        (r.local_addr().unwrap(), w.peer_addr().unwrap()),
        (local, at_b(13))
    );
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let echoed = read_all(&mut r).await;
    assert!(echoed == data, "{} of {}", echoed.len(), data.len());
    let w = writer.await.unwrap();
    let server_read = server.await.unwrap();

    // Another stream's write half does not fit.
    let other = TcpListener::bind(&b, at_b(14)).unwrap();
    let d = TcpStream::connect(&a, at_b(14)).await.unwrap();
    let _accepted = other.accept().await.unwrap();
    let (dr, dw) = d.into_split();
    let e = r.reunite(dw).unwrap_err();
    assert!(e.to_string().contains("two streams"), "{e}");
    let (r, dw) = (e.0, e.1);
    let whole = r.reunite(w).unwrap();
    assert_eq!(whole.local_addr().unwrap(), local);
    assert!(dr.reunite(dw).is_ok());
    drop(server_read);
}

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
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, at_b(10)).unwrap();
    let mut c = TcpStream::connect(&a, at_b(10)).await.unwrap();
    let (mut s, _) = listener.accept().await.unwrap();
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

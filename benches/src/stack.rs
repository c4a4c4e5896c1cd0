//! Request/response connections through two `Stack`s in memory.

use std::net::SocketAddr;
use std::time::Duration;

use vtcp::{Stack, StackConfig};

/// The client's address.
pub const CLIENT: [u8; 4] = [198, 18, 0, 1];
/// The server's address.
pub const SERVER: [u8; 4] = [198, 18, 0, 2];

/// A stack whose secrets come from `seed`, so runs repeat.
pub fn stack(seed: u8) -> Stack {
    Stack::new(StackConfig {
        cookie_key: [seed; 16],
        isn_key: [seed; 16],
        ..StackConfig::default()
    })
}

/// Moves every packet both ways until quiet.
pub fn settle(now: Duration, a: &mut Stack, b: &mut Stack, buf: &mut [u8]) {
    loop {
        let mut moved = false;
        while let Some(t) = a.poll_transmit(now, buf) {
            b.handle_packet(now, t.src, t.dst, &buf[..t.len]);
            moved = true;
        }
        while let Some(t) = b.poll_transmit(now, buf) {
            a.handle_packet(now, t.src, t.dst, &buf[..t.len]);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

/// `n` connections, one after another: connect, send a 100-byte request,
/// answer with 1000 bytes, close both ends. Returns those completed.
pub fn connections(n: usize) -> usize {
    let mut client = stack(1);
    let mut server = stack(2);
    let addr = SocketAddr::new(SERVER.into(), 80);
    let listener = server.listen(addr, 1024).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut data = vec![0u8; 1000];
    let mut now = Duration::from_secs(1);
    let mut done = 0;
    for _ in 0..n {
        let c = client.connect(now, CLIENT.into(), addr).unwrap();
        client.conn_mut(c).unwrap().write(&data[..100]).unwrap();
        settle(now, &mut client, &mut server, &mut buf);
        let s = server.accept(listener).unwrap();
        let got = server.conn_mut(s).unwrap().read(&mut data);
        let conn = server.conn_mut(s).unwrap();
        conn.write(&data[..1000]).unwrap();
        conn.close();
        settle(now, &mut client, &mut server, &mut buf);
        let conn = client.conn_mut(c).unwrap();
        let answer = conn.read(&mut data);
        conn.close();
        settle(now, &mut client, &mut server, &mut buf);
        done += usize::from(got == 100 && answer == 1000);
        // Both are closed or in TIME-WAIT; let TIME-WAIT expire later.
        client.release(c);
        server.release(s);
        now += Duration::from_micros(10);
    }
    // Run out the TIME-WAITs so nothing is left.
    now += Duration::from_secs(5);
    client.handle_timeout(now);
    server.handle_timeout(now);
    settle(now, &mut client, &mut server, &mut buf);
    assert_eq!((client.connections(), server.connections()), (0, 0));
    done
}

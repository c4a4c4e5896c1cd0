//! The `tracing` feature: what a connection reports as it works.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use vtcp_conn::{Conn, ConnConfig, Endpoints};

/// One event's fields, `message` included, each rendered with `Debug`.
type Fields = Vec<(String, String)>;

/// Every event seen.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Fields>>>);

struct Visitor(Fields);

impl Visit for Visitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Visitor(Vec::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Collect {
    /// The events whose message is `message`, as field maps.
    fn with_message(&self, message: &str) -> Vec<Fields> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|f| f.iter().any(|(k, v)| k == "message" && v == message))
            .cloned()
            .collect()
    }
}

fn field<'a>(event: &'a [(String, String)], name: &str) -> &'a str {
    &event.iter().find(|(k, _)| k == name).expect(name).1
}

fn parse(bytes: &[u8]) -> vtcp_wire::ParsedSegment<'_> {
    vtcp_wire::ParsedSegment::parse(bytes).unwrap()
}

fn ends(local: u16, remote: u16) -> Endpoints {
    Endpoints::ports(local, remote)
}

/// A handshake, a SYN-FIN dropped, then an RTO (a malformed segment is
/// the stack's to drop, `vtcp`'s tracing test):
/// each is an event with the fields that say what happened.
#[test]
fn state_changes_drops_and_rtos_are_traced() {
    let collect = Collect::default();
    tracing::subscriber::with_default(collect.clone(), || {
        let now = Duration::from_secs(1);
        let mut buf = vec![0u8; 2048];
        let mut client = Conn::connect(ConnConfig::default(), ends(40_000, 7), now);
        let n = client.poll_transmit(now, &mut buf).unwrap();
        let syn = vtcp_wire::ParsedSegment::parse(&buf[..n]).unwrap();
        let mut server =
            Conn::accept_syn(ConnConfig::default(), ends(7, 40_000), now, &syn).unwrap();
        let n = server.poll_transmit(now, &mut buf).unwrap();
        client.handle_segment(now, &parse(&buf[..n]));
        let n = client.poll_transmit(now, &mut buf).unwrap();
        let mut ack = buf[..n].to_vec();
        server.handle_segment(now, &parse(&ack));

        ack[13] = 0x03; // SYN and FIN
        server.handle_segment(now, &parse(&ack));

        client.write(b"lost").unwrap();
        while client.poll_transmit(now, &mut buf).is_some() {}
        // A tail-loss probe may come first: run the timers, sending
        // nothing across, until the RTO fires.
        for _ in 0..5 {
            let deadline = client.poll_timeout().unwrap();
            client.handle_timeout(deadline);
            while client.poll_transmit(deadline, &mut buf).is_some() {}
            if client.stats().rtos > 0 {
                break;
            }
        }
    });

    let changes = collect.with_message("state change");
    let seen: Vec<_> = changes
        .iter()
        .map(|e| (field(e, "from"), field(e, "to"), field(e, "cause")))
        .collect();
    // String fields come as their Debug form, quoted.
    assert!(
        seen.contains(&("SynSent", "Established", "\"segment\"")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(from, to, _)| *from == "SynReceived" && *to == "Established"),
        "{seen:?}"
    );
    let drops = collect.with_message("segment dropped");
    let reasons: Vec<_> = drops.iter().map(|e| field(e, "reason")).collect();
    assert!(
        reasons.iter().any(|r| r.contains("SYN and FIN")),
        "{reasons:?}"
    );
    let rtos = collect.with_message("retransmission timeout");
    assert_eq!(rtos.len(), 1);
    assert_eq!(field(&rtos[0], "retries"), "1");
}

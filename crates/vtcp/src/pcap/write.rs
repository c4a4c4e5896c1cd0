//! Writing captures: [`PcapWriter`], a [`Tap`] that frames each segment
//! in the IP header `vtcp-tun` would send it in and appends it to a pcap
//! file of raw IP packets (link type 101).

use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};

use crate::tap::{Direction, Tap};

/// The largest packet a record holds whole (snaplen).
const SNAPLEN: u32 = 262_144;

/// Writes segments as a pcap file of raw IPv4 and IPv6 packets.
pub struct PcapWriter<W: Write> {
    out: W,
    /// Added to every time given.
    offset: Duration,
    /// The packet being framed, kept for the next one.
    scratch: Vec<u8>,
    /// The first error met while used as a [`Tap`].
    error: Option<io::Error>,
}

impl<W: Write> std::fmt::Debug for PcapWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapWriter")
            .field("offset", &self.offset)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

fn gen_error(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("pcap serialisation: {e:?}"))
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header; packet times count from 1970-01-01.
    pub fn new(out: W) -> io::Result<Self> {
        Self::with_offset(out, Duration::ZERO)
    }

    /// Writes the file header; a packet at the stack's time `now` is
    /// stamped `start + now`. For a [`NetStack`](crate::NetStack), whose
    /// time starts when it is made, pass the wall-clock time of then.
    pub fn starting_at(out: W, start: SystemTime) -> io::Result<Self> {
        let offset = start
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Self::with_offset(out, offset)
    }

    fn with_offset(mut out: W, offset: Duration) -> io::Result<Self> {
        let mut header = PcapHeader::new();
        header.snaplen = SNAPLEN;
        header.network = Linktype::RAW;
        out.write_all(&header.to_vec().map_err(gen_error)?)?;
        Ok(Self {
            out,
            offset,
            scratch: Vec::new(),
            error: None,
        })
    }

    /// Writes one TCP segment from `src` to `dst` at `time`, in the IP
    /// header [`wrap_tcp`](crate::ip::wrap_tcp) gives it. A segment too
    /// long for IP, or addresses of two families, cannot be one packet:
    /// an `InvalidInput` error, nothing written.
    pub fn write(
        &mut self,
        time: Duration,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
    ) -> io::Result<()> {
        let mut packet = std::mem::take(&mut self.scratch);
        let result = if crate::ip::wrap_tcp(src, dst, segment, &mut packet) {
            self.write_packet(time, &packet)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a segment too long for IP, or addresses of two families",
            ))
        };
        self.scratch = packet;
        result
    }

    /// Writes one whole IP packet at `time` (a capture of what a device
    /// carried, say).
    pub fn write_packet(&mut self, time: Duration, packet: &[u8]) -> io::Result<()> {
        let len = u32::try_from(packet.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too long"))?;
        let time = self.offset + time;
        let mut record = LegacyPcapBlock {
            // pcap's seconds are 32 bits: they run out in 2106.
            ts_sec: u32::try_from(time.as_secs()).unwrap_or(u32::MAX),
            ts_usec: time.subsec_micros(),
            caplen: len,
            origlen: len,
            data: packet,
        };
        self.out.write_all(&record.to_vec().map_err(gen_error)?)
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write + Send> Tap for PcapWriter<W> {
    /// Writes the segment; after an error, nothing more (the capture
    /// would have a hole), and [`Tap::finish`] reports it.
    fn packet(
        &mut self,
        now: Duration,
        _direction: Direction,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
    ) {
        if self.error.is_none()
            && let Err(e) = self.write(now, src, dst, segment)
        {
            self.error = Some(e);
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::{PseudoHeader, verify_tcp_checksum};
    use crate::wire::{Flags, SegmentView};
    use crate::{Stack, StackConfig};
    use etherparse::{IpNumber, NetSlice, SlicedPacket};
    use pcap_parser::{LegacyPcapSlice, PcapBlockOwned};
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    /// A file in memory that the test keeps a handle on while the stack
    /// owns the tap.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// One captured packet: its time and, parsed back, its addresses and
    /// TCP segment.
    struct Record {
        time: (u32, u32),
        src: IpAddr,
        dst: IpAddr,
        segment: Vec<u8>,
    }

    /// Reads a capture back with pcap-parser and etherparse: raw IP, whole
    /// records, IP headers that parse (IPv4 with a right checksum and DF),
    /// TCP inside.
    fn read_back(file: &[u8]) -> Vec<Record> {
        let mut out = Vec::new();
        let slice = LegacyPcapSlice::from_slice(file).expect("a pcap header");
        for block in slice {
            let b = match block.expect("a well-formed record") {
                PcapBlockOwned::LegacyHeader(h) => {
                    assert_eq!((h.network, h.snaplen), (Linktype::RAW, SNAPLEN));
                    continue;
                }
                PcapBlockOwned::Legacy(b) => b,
                PcapBlockOwned::NG(_) => panic!("a pcapng block in a pcap file"),
            };
            assert_eq!(b.caplen, b.origlen);
            let sliced = SlicedPacket::from_ip(b.data).expect("an IP packet");
            let (src, dst, segment) = match sliced.net.expect("an IP header") {
                NetSlice::Ipv4(ip) => {
                    let h = ip.header().to_header();
                    assert_eq!(h.header_checksum, h.calc_header_checksum());
                    assert!(h.dont_fragment);
                    assert_eq!(h.protocol, IpNumber::TCP);
                    (
                        h.source.into(),
                        h.destination.into(),
                        ip.payload().payload.to_vec(),
                    )
                }
                NetSlice::Ipv6(ip) => {
                    let h = ip.header().to_header();
                    assert_eq!(h.next_header, IpNumber::TCP);
                    (
                        h.source.into(),
                        h.destination.into(),
                        ip.payload().payload.to_vec(),
                    )
                }
                _ => panic!("neither IPv4 nor IPv6"),
            };
            out.push(Record {
                time: (b.ts_sec, b.ts_usec),
                src,
                dst,
                segment,
            });
        }
        out
    }

    /// A handshake and five octets between two stacks, captured by a tap
    /// on the client's stack at 1.5 s of its clock.
    fn capture(client: IpAddr, server: IpAddr) -> Vec<Record> {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let file = Shared::default();
        let mut a = Stack::new(StackConfig::default());
        let mut b = Stack::new(StackConfig::default());
        let writer = PcapWriter::starting_at(file.clone(), start).unwrap();
        a.set_tap(Some(Box::new(writer)));
        b.listen(SocketAddr::new(server, 80), 4).unwrap();
        let now = Duration::from_millis(1500);
        let key = a.connect(now, client, SocketAddr::new(server, 80)).unwrap();
        let mut buf = vec![0u8; 4096];
        for round in 0..4 {
            if round == 2 {
                a.conn_mut(key).unwrap().write(b"hello").unwrap();
            }
            while let Some(t) = a.poll_transmit(now, &mut buf) {
                b.handle_packet(now, t.src, t.dst, &buf[..t.len]);
            }
            while let Some(t) = b.poll_transmit(now, &mut buf) {
                a.handle_packet(now, t.src, t.dst, &buf[..t.len]);
            }
        }
        a.set_tap(None).unwrap().finish().unwrap();
        let records = read_back(&file.0.lock().unwrap());
        for r in &records {
            assert_eq!(r.time, (1_800_000_001, 500_000));
            assert!([(client, server), (server, client)].contains(&(r.src, r.dst)));
            let pseudo = PseudoHeader::new(r.src, r.dst).unwrap();
            assert!(verify_tcp_checksum(&pseudo, &r.segment));
        }
        records
    }

    fn flags(r: &Record) -> Flags {
        SegmentView::new_checked(&r.segment[..]).unwrap().flags()
    }

    #[test]
    fn ipv4_and_ipv6_captures_read_back() {
        for (client, server) in [
            (IpAddr::from([198, 18, 0, 1]), IpAddr::from([198, 18, 0, 2])),
            ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap()),
        ] {
            let r = capture(client, server);
            // SYN, SYN-ACK, ACK, data (its ACK is delayed).
            assert_eq!(r.len(), 4, "{client}");
            assert_eq!(flags(&r[0]), Flags::SYN);
            assert_eq!(flags(&r[1]), Flags::SYN | Flags::ACK);
            assert_eq!((r[1].src, r[1].dst), (server, client));
            assert!(r[3].segment.ends_with(b"hello"));
        }
    }

    #[test]
    fn mixed_families_are_refused_and_nothing_is_written() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let e = w
            .write(
                Duration::ZERO,
                [198, 18, 0, 1].into(),
                "fd00::2".parse().unwrap(),
                &[0; 20],
            )
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(w.into_inner().unwrap().len(), 24);
    }

    /// A tap keeps its first error for `finish` and writes nothing after
    /// it (a capture with a hole would mislead).
    #[test]
    fn a_tap_reports_its_first_error_at_finish() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let (v4, v6): (IpAddr, IpAddr) = ([198, 18, 0, 1].into(), "fd00::2".parse().unwrap());
        w.packet(Duration::ZERO, Direction::Out, v4, v6, &[0; 20]);
        w.packet(Duration::ZERO, Direction::Out, v4, v4, &[0; 20]);
        assert_eq!(w.finish().unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(w.into_inner().unwrap().len(), 24);
    }
}

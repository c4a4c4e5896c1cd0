//! `vtcp decode`: every TCP segment of a capture on one line, tcpdump's
//! way, with its checksum status; then a summary.

use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use vtcp::pcap::{self as capture, CaptureError, Flows, Frame, FrameContent, TcpInIp, Timestamp};
use vtcp_wire::checksum::PseudoHeader;
use vtcp_wire::{Segment, SegmentView};

/// Why `vtcp decode` failed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The file is not a readable capture.
    #[error("{path}: {source}")]
    Capture {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: CaptureError,
    },
    /// Output could not be written.
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

/// Counts over a whole capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Frames in the file.
    pub frames: usize,
    /// TCP segments found, malformed ones included.
    pub segments: usize,
    /// Connections: distinct pairs of endpoints.
    pub flows: usize,
    /// Segments whose checksum is wrong.
    pub bad_checksums: usize,
    /// Retransmissions, as [`vtcp::pcap::flows`] defines them: segments
    /// that carry sequence space already sent (keep-alives aside).
    pub retransmissions: usize,
    /// TCP segments (or their IP headers) that could not be parsed.
    pub malformed: usize,
    /// Frames that hold no TCP.
    pub other: usize,
    /// Frames of a link type the decoder does not know (not counted in
    /// `other`: whether they hold TCP cannot be told), and the first such
    /// link type.
    pub unsupported_link: (usize, Option<i32>),
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "summary:")?;
        writeln!(f, "  frames            {}", self.frames)?;
        writeln!(f, "  tcp segments      {}", self.segments)?;
        writeln!(f, "  flows             {}", self.flows)?;
        writeln!(f, "  bad checksums     {}", self.bad_checksums)?;
        writeln!(f, "  retransmissions   {}", self.retransmissions)?;
        writeln!(f, "  malformed         {}", self.malformed)?;
        writeln!(f, "  other frames      {}", self.other)?;
        if let (n @ 1.., Some(link)) = self.unsupported_link {
            writeln!(
                f,
                "  unreadable frames {n} (link type {link} is not supported)"
            )?;
        }
        Ok(())
    }
}

fn clock(time: Timestamp) -> String {
    let secs = time.secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        time.nanos / 1000
    )
}

fn family(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() { "IP" } else { "IP6" }
}

/// Decodes frames already read, writing one line per TCP segment (none
/// when `quiet`) and then the summary.
pub fn decode_frames(
    frames: &[Frame<'_>],
    out: &mut impl Write,
    quiet: bool,
) -> io::Result<Summary> {
    let mut summary = Summary {
        frames: frames.len(),
        ..Summary::default()
    };
    let mut flows = Flows::new();
    for frame in frames {
        let line = match capture::tcp_in_frame(frame.linktype, frame.data) {
            FrameContent::Other(_) => {
                summary.other += 1;
                continue;
            }
            FrameContent::UnsupportedLink(link) => {
                summary.unsupported_link.0 += 1;
                summary.unsupported_link.1.get_or_insert(link.0);
                continue;
            }
            FrameContent::Malformed(why) => {
                summary.malformed += 1;
                format!(
                    "{} malformed frame {}: {why}",
                    clock(frame.time),
                    frame.number
                )
            }
            FrameContent::Tcp(tcp) => {
                summary.segments += 1;
                segment_line(frame.time, &tcp, &mut summary, &mut flows)
            }
        };
        if !quiet {
            writeln!(out, "{line}")?;
        }
    }
    summary.flows = flows.connections();
    write!(out, "{summary}")?;
    Ok(summary)
}

fn segment_line(
    time: Timestamp,
    tcp: &TcpInIp<'_>,
    summary: &mut Summary,
    flows: &mut Flows,
) -> String {
    let fam = family(tcp.src);
    let seg = match Segment::parse(tcp.tcp) {
        Ok(seg) => seg,
        Err(e) => {
            summary.malformed += 1;
            let ports = SegmentView::new_checked(tcp.tcp)
                .map(|v| (v.src_port().to_string(), v.dst_port().to_string()))
                .unwrap_or_else(|_| ("?".into(), "?".into()));
            return format!(
                "{} {fam} {}.{} > {}.{}: malformed TCP: {e}",
                clock(time),
                tcp.src,
                ports.0,
                tcp.dst,
                ports.1
            );
        }
    };
    let status = match PseudoHeader::new(tcp.src, tcp.dst) {
        Some(pseudo) if SegmentView::new_unchecked(tcp.tcp).verify_checksum(&pseudo) => "correct",
        _ => {
            summary.bad_checksums += 1;
            "incorrect"
        }
    };
    let retransmission = flows.record(tcp.src, tcp.dst, &SegmentView::new_unchecked(tcp.tcp));
    if retransmission {
        summary.retransmissions += 1;
    }
    format!(
        "{} {fam} {}.{} > {}.{}: {}, cksum {:#06x} ({status}){}",
        clock(time),
        tcp.src,
        seg.src_port,
        tcp.dst,
        seg.dst_port,
        // The segment's own Display starts with the ports; drop them.
        seg.to_string()
            .split_once(": ")
            .map_or(String::new(), |(_, rest)| rest.to_string()),
        seg.checksum,
        if retransmission {
            " [retransmission]"
        } else {
            ""
        }
    )
}

/// `vtcp decode FILE`: reads the file and decodes it to `out`.
pub fn decode_file(path: &Path, out: &mut impl Write, quiet: bool) -> Result<Summary, DecodeError> {
    let bytes = std::fs::read(path).map_err(|source| DecodeError::Read {
        path: path.to_owned(),
        source,
    })?;
    let frames = capture::read_frames(&bytes).map_err(|source| DecodeError::Capture {
        path: path.to_owned(),
        source,
    })?;
    Ok(decode_frames(&frames, out, quiet)?)
}

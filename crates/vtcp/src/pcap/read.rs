//! Reading captures: every frame of a pcap (microsecond or nanosecond)
//! or pcapng file held in memory, with its time and link type, read with
//! `pcap-parser`. Frames are not interpreted here; [`super::tcp_in_frame`]
//! takes their link and IP layers off.

use pcap_parser::Block;
use pcap_parser::nom;
use pcap_parser::{LegacyPcapSlice, Linktype, PcapBlockOwned, PcapError, PcapNGSlice};

/// Why a capture file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The file is neither pcap nor pcapng.
    #[error("not a pcap or pcapng file (magic {magic:02x?})")]
    UnknownFormat {
        /// The first bytes of the file.
        magic: Vec<u8>,
    },
    /// The file ends inside a header or a packet.
    #[error("truncated: the file ends inside {what} after {frames} complete frames")]
    Truncated {
        /// What was cut short.
        what: &'static str,
        /// Frames read before the cut.
        frames: usize,
    },
    /// A header or block is malformed.
    #[error("malformed {what} after {frames} frames: {detail}")]
    Malformed {
        /// What was malformed.
        what: &'static str,
        /// Frames read before it.
        frames: usize,
        /// The parser's description.
        detail: String,
    },
}

/// A capture timestamp: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: u64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// One captured frame, still wrapped in its link layer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number, as Wireshark counts.
    pub number: usize,
    /// When it was captured.
    pub time: Timestamp,
    /// Its link-layer type.
    pub linktype: Linktype,
    /// The captured bytes (possibly fewer than were on the wire).
    pub data: &'a [u8],
    /// Length on the wire.
    pub orig_len: usize,
}

/// Reads every frame of a pcap or pcapng file held in memory.
pub fn read_frames(file: &[u8]) -> Result<Vec<Frame<'_>>, CaptureError> {
    match file.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(file),
        Some(m) if is_pcap_magic(m) => read_pcap(file),
        _ => Err(CaptureError::UnknownFormat {
            magic: file.iter().take(4).copied().collect(),
        }),
    }
}

fn is_pcap_magic(m: &[u8]) -> bool {
    matches!(
        m,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
    )
}

fn nom_error(err: nom::Err<PcapError<&[u8]>>, what: &'static str, frames: usize) -> CaptureError {
    match err {
        nom::Err::Incomplete(_)
        | nom::Err::Error(PcapError::Incomplete(_))
        | nom::Err::Failure(PcapError::Incomplete(_)) => CaptureError::Truncated { what, frames },
        nom::Err::Error(e) | nom::Err::Failure(e) => CaptureError::Malformed {
            what,
            frames,
            detail: format!("{e:?}"),
        },
    }
}

fn read_pcap(file: &[u8]) -> Result<Vec<Frame<'_>>, CaptureError> {
    let slice =
        LegacyPcapSlice::from_slice(file).map_err(|e| nom_error(e, "the pcap file header", 0))?;
    let linktype = slice.header.network;
    let nanosecond = slice.header.is_nanosecond_precision();
    let mut frames = Vec::new();
    for block in slice {
        let block = block.map_err(|e| nom_error(e, "a packet record", frames.len()))?;
        if let PcapBlockOwned::Legacy(b) = block {
            let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
            let frac = if nanosecond {
                b.ts_usec
            } else {
                b.ts_usec.saturating_mul(1000)
            };
            frames.push(Frame {
                number: frames.len() + 1,
                time: Timestamp {
                    secs: u64::from(b.ts_sec),
                    nanos: frac.min(999_999_999),
                },
                linktype,
                data,
                orig_len: b.origlen as usize,
            });
        }
    }
    Ok(frames)
}

/// What pcapng tells about one interface.
struct Interface {
    linktype: Linktype,
    units_per_sec: u64,
    offset_secs: i64,
}

/// Walks the blocks of a pcapng file by their headers alone: every
/// block's total length at least 12 octets (type, length, trailing
/// length), a multiple of 4 and within the file, its byte order the
/// section's (set by each section header's byte-order magic). pcap-parser
/// 0.17 subtracts 12 from a smaller length without checking (its fuzzed
/// input, `fuzz/regressions/pcap_read/`, panics a debug build), so no
/// block reaches it before this has looked.
fn check_pcapng_blocks(file: &[u8]) -> Result<(), CaptureError> {
    const SECTION_HEADER: u32 = 0x0a0d_0d0a;
    let word = |at: usize, le: bool| -> Option<u32> {
        let b: [u8; 4] = file.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let (mut at, mut le, mut blocks) = (0usize, true, 0usize);
    while at < file.len() {
        let bad = |detail: String| CaptureError::Malformed {
            what: "a pcapng block",
            frames: blocks,
            detail,
        };
        let block_type = word(at, true).ok_or(CaptureError::Truncated {
            what: "a pcapng block header",
            frames: blocks,
        })?;
        if block_type == SECTION_HEADER {
            le = match word(at + 8, true) {
                Some(0x1a2b_3c4d) => true,
                Some(0x4d3c_2b1a) => false,
                Some(magic) => return Err(bad(format!("byte-order magic {magic:#010x}"))),
                None => {
                    return Err(CaptureError::Truncated {
                        what: "a section header",
                        frames: blocks,
                    });
                }
            };
        }
        let len = word(at + 4, le).ok_or(CaptureError::Truncated {
            what: "a pcapng block header",
            frames: blocks,
        })? as usize;
        if len < 12 || !len.is_multiple_of(4) {
            return Err(bad(format!("block length {len}")));
        }
        if len > file.len() - at {
            return Err(CaptureError::Truncated {
                what: "a pcapng block",
                frames: blocks,
            });
        }
        at += len;
        blocks += 1;
    }
    Ok(())
}

fn read_pcapng(file: &[u8]) -> Result<Vec<Frame<'_>>, CaptureError> {
    check_pcapng_blocks(file)?;
    let slice = PcapNGSlice::from_slice(file).map_err(|e| nom_error(e, "the section header", 0))?;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut frames = Vec::new();
    for block in slice {
        let block = block.map_err(|e| nom_error(e, "a pcapng block", frames.len()))?;
        let PcapBlockOwned::NG(block) = block else {
            continue;
        };
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => interfaces.push(Interface {
                linktype: idb.linktype,
                units_per_sec: pcap_parser::build_ts_resolution(idb.if_tsresol)
                    .unwrap_or(1_000_000),
                offset_secs: idb.if_tsoffset,
            }),
            Block::EnhancedPacket(epb) => {
                let iface =
                    interfaces
                        .get(epb.if_id as usize)
                        .ok_or_else(|| CaptureError::Malformed {
                            what: "an enhanced packet block",
                            frames: frames.len(),
                            detail: format!("interface {} was never described", epb.if_id),
                        })?;
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let secs = (ticks / iface.units_per_sec).saturating_add_signed(iface.offset_secs);
                let frac = ticks % iface.units_per_sec;
                let nanos =
                    (u128::from(frac) * 1_000_000_000 / u128::from(iface.units_per_sec)) as u32;
                let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
                frames.push(Frame {
                    number: frames.len() + 1,
                    time: Timestamp { secs, nanos },
                    linktype: iface.linktype,
                    data,
                    orig_len: epb.origlen as usize,
                });
            }
            Block::SimplePacket(spb) => {
                let linktype = interfaces
                    .first()
                    .map_or(Linktype::ETHERNET, |i| i.linktype);
                frames.push(Frame {
                    number: frames.len() + 1,
                    time: Timestamp::default(),
                    linktype,
                    data: spb.data.get(..spb.origlen as usize).unwrap_or(spb.data),
                    orig_len: spb.origlen as usize,
                });
            }
            _ => {}
        }
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_and_truncated_files() {
        assert!(matches!(
            read_frames(b"hello"),
            Err(CaptureError::UnknownFormat { .. })
        ));
        assert!(matches!(
            read_frames(b""),
            Err(CaptureError::UnknownFormat { .. })
        ));
        let header = [
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ];
        assert_eq!(read_frames(&header).map(|f| f.len()), Ok(0));
        let mut cut = header.to_vec();
        cut.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 0, 1, 2, 3]);
        assert!(matches!(
            read_frames(&cut),
            Err(CaptureError::Truncated { frames: 0, .. })
        ));
        assert!(matches!(
            read_frames(&header[..10]),
            Err(CaptureError::Truncated { .. })
        ));
    }

    /// A pcapng block shorter than its own header and trailer is refused
    /// before pcap-parser sees it (which would subtract past zero), in
    /// either byte order; a well-formed section header alone reads.
    #[test]
    fn a_pcapng_block_shorter_than_twelve_octets_is_malformed() {
        let section = |le: bool, len: u32| {
            let w = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
            let mut f = vec![0x0a, 0x0d, 0x0d, 0x0a];
            f.extend_from_slice(&w(28));
            f.extend_from_slice(&w(0x1a2b_3c4d));
            f.extend_from_slice(&[1, 0, 0, 0]);
            f.extend_from_slice(&[0xff; 8]);
            f.extend_from_slice(&w(28));
            // A process information block (type 0x80000001) of `len`.
            f.extend_from_slice(&w(0x8000_0001));
            f.extend_from_slice(&w(len));
            f.extend_from_slice(&[0; 8]);
            f
        };
        for le in [true, false] {
            assert!(
                matches!(
                    read_frames(&section(le, 8)),
                    Err(CaptureError::Malformed { frames: 1, .. })
                ),
                "{le}"
            );
            let mut ok = section(le, 8);
            ok.truncate(28);
            assert_eq!(read_frames(&ok).map(|f| f.len()), Ok(0), "{le}");
        }
    }
}

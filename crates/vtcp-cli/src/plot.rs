//! A time-sequence graph in the manner of tcptrace, as SVG: the data
//! segments of one direction (retransmissions in red), the ACK line, the
//! receive-window line and SACK blocks, with the congestion window over
//! time in a panel below.
//!
//! The SVG is written by hand: a few hundred lines of markup need no font
//! metrics, which the plotting crates get from system fonts or bundled
//! ones.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use vtcp_wire::{Flags, Segment};

/// What the graph shows, collected from segments as they are sent.
#[derive(Debug, Default)]
pub struct TimeSequence {
    sender: Option<(IpAddr, u16)>,
    isn: Option<u32>,
    peer_wscale: u8,
    high: u32,
    /// (time, start, end, retransmitted), relative sequence numbers.
    data: Vec<(f64, u32, u32, bool)>,
    /// (time, ack, right edge of the window).
    acks: Vec<(f64, u32, u32)>,
    /// (time, left, right).
    sacks: Vec<(f64, u32, u32)>,
    /// (time, cwnd).
    cwnd: Vec<(f64, u32)>,
}

impl TimeSequence {
    /// A graph of the data sent by `sender` (address and port).
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one segment as sent at `time`. The first SYN names the sender.
    pub fn observe(&mut self, time: Duration, src: IpAddr, _dst: IpAddr, bytes: &[u8]) {
        let Ok(seg) = Segment::parse(bytes) else {
            return;
        };
        let t = time.as_secs_f64();
        let from = (src, seg.src_port);
        if self.sender.is_none() && seg.flags == Flags::SYN {
            self.sender = Some(from);
            self.isn = Some(seg.seq.0.wrapping_add(1));
            return;
        }
        let Some(isn) = self.isn else { return };
        let rel = |s: u32| s.wrapping_sub(isn);
        if Some(from) == self.sender {
            if seg.data_len() > 0 {
                let (start, end) = (
                    rel(seg.seq.0),
                    rel(seg.seq.0).wrapping_add(seg.data_len() as u32),
                );
                let retransmitted = start < self.high;
                self.high = self.high.max(end);
                self.data.push((t, start, end, retransmitted));
            }
        } else {
            if seg.flags.contains(Flags::SYN) {
                self.peer_wscale = seg.options.wscale().unwrap_or(0);
                return;
            }
            if seg.flags.contains(Flags::ACK) {
                let ack = rel(seg.ack.0);
                let right = ack.wrapping_add(u32::from(seg.window) << self.peer_wscale);
                self.acks.push((t, ack, right));
                for b in seg.options.sack_blocks().iter() {
                    self.sacks.push((t, rel(b.left.0), rel(b.right.0)));
                }
            }
        }
    }

    /// Records the congestion window at `time`.
    pub fn cwnd(&mut self, time: Duration, cwnd: u32) {
        self.cwnd.push((time.as_secs_f64(), cwnd));
    }

    /// The graph as an SVG document.
    pub fn to_svg(&self, title: &str) -> String {
        const W: f64 = 1000.0;
        const TOP_H: f64 = 520.0;
        const BOT_H: f64 = 200.0;
        const LEFT: f64 = 90.0;
        const RIGHT: f64 = 20.0;
        let t_max = self
            .data
            .iter()
            .map(|d| d.0)
            .chain(self.acks.iter().map(|a| a.0))
            .fold(1e-6, f64::max);
        let s_max = f64::from(
            self.acks
                .iter()
                .map(|a| a.2)
                .chain(self.data.iter().map(|d| d.2))
                .max()
                .unwrap_or(1)
                .max(1),
        );
        let c_max = f64::from(self.cwnd.iter().map(|c| c.1).max().unwrap_or(1).max(1));
        let x = |t: f64| LEFT + t / t_max * (W - LEFT - RIGHT);
        let y = |s: f64| 40.0 + TOP_H - s / s_max * TOP_H;
        let yc = |c: f64| 40.0 + TOP_H + 60.0 + BOT_H - c / c_max * BOT_H;
        let height = 40.0 + TOP_H + 60.0 + BOT_H + 50.0;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="24" font-size="15">{}</text>"#,
            escape(title)
        );
        // Axes and ticks.
        for (y0, h) in [(40.0, TOP_H), (40.0 + TOP_H + 60.0, BOT_H)] {
            let _ = writeln!(
                svg,
                r#"<rect x="{LEFT}" y="{y0}" width="{}" height="{h}" fill="none" stroke="black"/>"#,
                W - LEFT - RIGHT
            );
        }
        for i in 0..=5 {
            let f = f64::from(i) / 5.0;
            let tx = x(f * t_max);
            let _ = writeln!(
                svg,
                r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{:.2} s</text>"#,
                height - 30.0,
                f * t_max
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                y(f * s_max) + 4.0,
                human(f * s_max)
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                yc(f * c_max) + 4.0,
                human(f * c_max)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})">sequence (bytes)</text>"#,
            40.0 + TOP_H / 2.0,
            40.0 + TOP_H / 2.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})">cwnd (bytes)</text>"#,
            yc(c_max / 2.0),
            yc(c_max / 2.0)
        );
        // Window line (yellow), ACK line (green), SACK blocks (purple).
        let line = |points: &mut dyn Iterator<Item = (f64, f64)>, colour: &str| {
            let pts: Vec<String> = points.map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
            format!(
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1" points="{}"/>"#,
                pts.join(" ")
            )
        };
        let step = (self.acks.len() / 4000).max(1);
        let _ = writeln!(
            svg,
            "{}",
            line(
                &mut self
                    .acks
                    .iter()
                    .step_by(step)
                    .map(|a| (x(a.0), y(f64::from(a.2)))),
                "#d4a017"
            )
        );
        let _ = writeln!(
            svg,
            "{}",
            line(
                &mut self
                    .acks
                    .iter()
                    .step_by(step)
                    .map(|a| (x(a.0), y(f64::from(a.1)))),
                "green"
            )
        );
        let sack_step = (self.sacks.len() / 4000).max(1);
        for s in self.sacks.iter().step_by(sack_step) {
            let _ = writeln!(
                svg,
                r#"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="purple"/>"#,
                x(s.0),
                y(f64::from(s.1)),
                y(f64::from(s.2))
            );
        }
        // Data segments: every retransmission, and enough of the rest.
        let fresh = self.data.iter().filter(|d| !d.3).count();
        let data_step = (fresh / 8000).max(1);
        let mut n = 0usize;
        for d in &self.data {
            let keep = d.3 || {
                n += 1;
                n.is_multiple_of(data_step)
            };
            if keep {
                let _ = writeln!(
                    svg,
                    r#"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="{3}" stroke-width="{4}"/>"#,
                    x(d.0),
                    y(f64::from(d.1)),
                    y(f64::from(d.2)),
                    if d.3 { "red" } else { "black" },
                    if d.3 { 2 } else { 1 }
                );
            }
        }
        let cstep = (self.cwnd.len() / 4000).max(1);
        let _ = writeln!(
            svg,
            "{}",
            line(
                &mut self
                    .cwnd
                    .iter()
                    .step_by(cstep)
                    .map(|c| (x(c.0), yc(f64::from(c.1)))),
                "blue"
            )
        );
        let legend = [
            ("black", "data"),
            ("red", "retransmission"),
            ("green", "ACK"),
            ("#d4a017", "receive window"),
            ("purple", "SACK"),
            ("blue", "cwnd"),
        ];
        for (i, (colour, label)) in legend.iter().enumerate() {
            let lx = LEFT + 10.0 + i as f64 * 140.0;
            let _ = writeln!(
                svg,
                r#"<rect x="{lx}" y="{:.1}" width="12" height="4" fill="{colour}"/>"#,
                height - 14.0
            );
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}">{label}</text>"#,
                lx + 16.0,
                height - 9.0
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn human(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.1}G", v / 1e9),
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.0}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

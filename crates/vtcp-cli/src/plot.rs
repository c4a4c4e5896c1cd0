//! A time-sequence graph in the manner of tcptrace, as SVG: the data
//! segments of one direction (retransmissions in red), the ACK line, the
//! receive-window line and SACK blocks, with the congestion window over
//! time in a panel below.
//!
//! Drawn with plotters' SVG backend, built without its font features: the
//! SVG names a font family and the viewer lays out the text, so no font
//! file is needed at build or run time.

use plotters::prelude::*;
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
    /// (time, pacing rate, bandwidth estimate), octets per second: a
    /// controller that paces (BBR).
    rates: Vec<(f64, u64, u64)>,
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

    /// Records the pacing rate and BBR's bandwidth estimate at `time`
    /// (octets per second): drawn below the window when there are any.
    pub fn rates(&mut self, time: Duration, pacing: u64, bandwidth: u64) {
        self.rates.push((time.as_secs_f64(), pacing, bandwidth));
    }

    /// The graph as an SVG document, drawn with plotters' SVG backend.
    pub fn to_svg(&self, title: &str) -> Result<String, String> {
        let mut svg = String::new();
        self.draw(title, &mut svg).map_err(|e| e.to_string())?;
        Ok(svg)
    }

    fn draw(
        &self,
        title: &str,
        svg: &mut String,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
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
        let window = RGBColor(0xd4, 0xa0, 0x17);
        let ack = RGBColor(0, 0x99, 0);
        let height = if self.rates.is_empty() { 820 } else { 1060 };
        let root = SVGBackend::with_string(svg, (1000, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, rest) = root.split_vertically(580);
        let (bottom, rate_area) = rest.split_vertically(240);

        let mut seq = ChartBuilder::on(&top)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max, 0f64..s_max)?;
        seq.configure_mesh()
            .disable_mesh()
            .y_desc("sequence (bytes)")
            .x_label_formatter(&|t| format!("{t:.2} s"))
            .y_label_formatter(&|v| human(*v))
            .draw()?;
        // Thinned so that the file stays a few megabytes at most.
        let step = (self.acks.len() / 4000).max(1);
        let legend = |colour: RGBColor| {
            move |(x, y): (i32, i32)| {
                PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(3))
            }
        };
        seq.draw_series(LineSeries::new(
            self.acks
                .iter()
                .step_by(step)
                .map(|a| (a.0, f64::from(a.2))),
            window,
        ))?
        .label("receive window")
        .legend(legend(window));
        seq.draw_series(LineSeries::new(
            self.acks
                .iter()
                .step_by(step)
                .map(|a| (a.0, f64::from(a.1))),
            ack,
        ))?
        .label("ACK")
        .legend(legend(ack));
        let sack_step = (self.sacks.len() / 4000).max(1);
        seq.draw_series(
            self.sacks
                .iter()
                .step_by(sack_step)
                .map(|s| PathElement::new([(s.0, f64::from(s.1)), (s.0, f64::from(s.2))], MAGENTA)),
        )?
        .label("SACK")
        .legend(legend(MAGENTA));
        // Data segments: every retransmission, and enough of the rest.
        let fresh = self.data.iter().filter(|d| !d.3).count();
        let data_step = (fresh / 8000).max(1);
        let segment = |d: &(f64, u32, u32, bool), style: ShapeStyle| {
            PathElement::new([(d.0, f64::from(d.1)), (d.0, f64::from(d.2))], style)
        };
        seq.draw_series(
            self.data
                .iter()
                .filter(|d| !d.3)
                .step_by(data_step)
                .map(|d| segment(d, BLACK.into())),
        )?
        .label("data")
        .legend(legend(BLACK));
        seq.draw_series(
            self.data
                .iter()
                .filter(|d| d.3)
                .map(|d| segment(d, RED.stroke_width(2))),
        )?
        .label("retransmission")
        .legend(legend(RED));
        seq.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;

        let mut cwnd = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..t_max, 0f64..c_max)?;
        cwnd.configure_mesh()
            .disable_mesh()
            .y_desc("cwnd (bytes)")
            .x_desc("time")
            .x_label_formatter(&|t| format!("{t:.2} s"))
            .y_label_formatter(&|v| human(*v))
            .draw()?;
        let cstep = (self.cwnd.len() / 4000).max(1);
        cwnd.draw_series(LineSeries::new(
            self.cwnd
                .iter()
                .step_by(cstep)
                .map(|c| (c.0, f64::from(c.1))),
            BLUE,
        ))?
        .label("cwnd")
        .legend(legend(BLUE));
        cwnd.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        if !self.rates.is_empty() {
            // Bits per second, as links are rated.
            let r_max = self
                .rates
                .iter()
                .map(|r| r.1.max(r.2))
                .max()
                .unwrap_or(1)
                .max(1) as f64
                * 8.0;
            let mut rates = ChartBuilder::on(&rate_area)
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(70)
                .build_cartesian_2d(0f64..t_max, 0f64..r_max)?;
            rates
                .configure_mesh()
                .disable_mesh()
                .y_desc("bit/s")
                .x_desc("time")
                .x_label_formatter(&|t| format!("{t:.2} s"))
                .y_label_formatter(&|v| human(*v))
                .draw()?;
            let rstep = (self.rates.len() / 4000).max(1);
            // (label, colour, which rate of each sample)
            let lines: [(&str, RGBColor, usize); 2] = [
                ("pacing rate", MAGENTA, 0),
                ("BBR's bandwidth estimate", window, 1),
            ];
            for (label, color, which) in lines {
                rates
                    .draw_series(LineSeries::new(
                        self.rates
                            .iter()
                            .step_by(rstep)
                            .map(|r| (r.0, [r.1, r.2][which] as f64 * 8.0)),
                        color,
                    ))?
                    .label(label)
                    .legend(legend(color));
            }
            rates
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()?;
        }
        root.present()
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

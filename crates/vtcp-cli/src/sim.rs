//! `vtcp sim`: one simulated transfer (or several, side by side) with a
//! progress bar and a summary.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use crate::plot::TimeSequence;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vtcp::{Direction, Tap};
use vtcp_sim::{
    Controller, GilbertElliott, Link, PcapWriter, Progress, Report, SimConfig, mathis_bound_bps,
    run, run_with_tap,
};

/// The flags of `vtcp sim`.
#[derive(Clone, Debug, clap::Args)]
pub struct SimArgs {
    /// Bytes to transfer (suffixes K, M, G: powers of 1024); with
    /// --exchanges, the size of each response.
    #[arg(long, default_value = "32M", value_parser = parse_size)]
    pub bytes: u64,
    /// Request/response: this many exchanges of a 100-byte request and a
    /// response of --bytes on one connection, with each exchange's time
    /// (p50, p99, max) in the summary.
    #[arg(long, default_value_t = 0)]
    pub exchanges: u32,
    /// Link bandwidth in Mbit/s.
    #[arg(long, default_value_t = 100.0, value_parser = positive, allow_negative_numbers = true)]
    pub bandwidth: f64,
    /// Round-trip time in milliseconds (twice the one-way delay).
    #[arg(long, default_value_t = 20.0, value_parser = non_negative, allow_negative_numbers = true)]
    pub rtt: f64,
    /// Random loss rate per packet and direction, 0 to 1 (or a percentage
    /// such as 1%).
    #[arg(long, default_value = "1%", value_parser = parse_rate, allow_negative_numbers = true)]
    pub loss: f64,
    /// Bursty loss: rate of entering the bad state, 0 to 1 (Gilbert–Elliott;
    /// 30% chance of leaving it, 50% loss inside).
    #[arg(long, default_value = "0", value_parser = parse_rate, allow_negative_numbers = true)]
    pub burst: f64,
    /// Jitter in milliseconds (uniform, added to the one-way delay).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative, allow_negative_numbers = true)]
    pub jitter: f64,
    /// Reordering rate (a packet is delayed by half the one-way delay).
    #[arg(long, default_value = "0", value_parser = parse_rate, allow_negative_numbers = true)]
    pub reorder: f64,
    /// Duplication rate.
    #[arg(long, default_value = "0", value_parser = parse_rate, allow_negative_numbers = true)]
    pub duplicate: f64,
    /// Rate of single-bit corruption (checksums must catch it).
    #[arg(long, default_value = "0", value_parser = parse_rate, allow_negative_numbers = true)]
    pub corrupt: f64,
    /// Queue size in packets (drop-tail).
    #[arg(long, default_value_t = 1000)]
    pub queue: usize,
    /// Congestion control.
    #[arg(long, default_value = "highspeed")]
    pub cc: Controller,
    /// Do not offer SACK.
    #[arg(long)]
    pub no_sack: bool,
    /// Do not offer timestamps.
    #[arg(long)]
    pub no_timestamps: bool,
    /// Do not offer window scaling.
    #[arg(long)]
    pub no_window_scaling: bool,
    /// RFC 6675's DupThresh and NextSeg instead of RACK-TLP (RFC 8985).
    #[arg(long)]
    pub no_rack: bool,
    /// Offer the whole buffer from the start instead of auto-tuning it.
    #[arg(long)]
    pub no_auto_tune: bool,
    /// TCP segmentation offload: the hosts hand out super-segments of up
    /// to 64 KiB and a software NIC cuts them before the link (the link
    /// carries the same segments).
    #[arg(long)]
    pub tso: bool,
    /// MSS.
    #[arg(long, default_value_t = 1460, value_parser = clap::value_parser!(u16).range(64..))]
    pub mss: u16,
    /// Send and receive buffer size (suffixes K, M).
    #[arg(long, default_value = "4M", value_parser = parse_size)]
    pub buffer: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run NewReno, HighSpeed and Cubic, with SACK and RACK-TLP, SACK
    /// alone (RFC 6675) and neither, on the same seeded link and print them
    /// side by side. It writes no capture or plot: --pcap, --plot and
    /// --exchanges are refused with it.
    #[arg(long, conflicts_with_all = ["pcap", "plot", "exchanges"])]
    pub compare: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write every segment sent as an IPv4 pcap file (raw IP link type).
    #[arg(long)]
    pub pcap: Option<std::path::PathBuf>,
    /// Draw a time-sequence graph (tcptrace's kind) with cwnd below it, as
    /// SVG.
    #[arg(long)]
    pub plot: Option<std::path::PathBuf>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (like 32M)"))?;
    n.checked_mul(mult)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("`{s}` is not a usable size"))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let (num, scale) = match s.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (s, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a rate (like 0.01 or 1%)"))?;
    let v = v / scale;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not between 0 and 1"))
    }
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("`{s}` is not a non-negative number")),
    }
}

impl SimArgs {
    /// The simulation these flags describe.
    pub fn config(&self) -> SimConfig {
        let one_way = Duration::from_secs_f64(self.rtt / 2000.0);
        let mut link = Link::default();
        link.bandwidth_bps = (self.bandwidth * 1e6) as u64;
        link.delay = one_way;
        link.jitter = Duration::from_secs_f64(self.jitter / 1000.0);
        link.loss = self.loss;
        link.bursts = (self.burst > 0.0).then_some(GilbertElliott {
            good_to_bad: self.burst,
            bad_to_good: 0.3,
            bad_loss: 0.5,
        });
        link.reorder = self.reorder;
        link.duplicate = self.duplicate;
        link.corrupt = self.corrupt;
        link.queue_packets = self.queue;
        let mut config = SimConfig::default();
        config.bytes = self.bytes;
        config.exchanges = self.exchanges;
        config.link = link;
        config.seed = self.seed;
        config.congestion = self.cc;
        config.sack = !self.no_sack;
        config.timestamps = !self.no_timestamps;
        config.window_scaling = !self.no_window_scaling;
        config.rack_tlp = !self.no_rack;
        config.auto_tune = !self.no_auto_tune;
        config.tso = self.tso;
        config.mss = self.mss;
        config.buffer = self.buffer as usize;
        config.time_limit = Duration::from_secs(24 * 3600);
        config
    }
}

fn mbit(bps: f64) -> String {
    format!("{:.2} Mbit/s", bps / 1e6)
}

/// The summary of one run, as lines of `key  value`.
pub fn summary(cfg: &SimConfig, r: &Report) -> String {
    let mut s = String::new();
    let capacity = cfg.link.bandwidth_bps as f64;
    let rtt = cfg.link.delay * 2;
    let total = cfg.bytes * u64::from(cfg.exchanges.max(1));
    let _ = if r.intact {
        writeln!(s, "transfer        {} bytes, intact", r.delivered)
    } else if r.delivered < total {
        writeln!(
            s,
            "transfer        {} of {total} bytes: INCOMPLETE",
            r.delivered
        )
    } else {
        writeln!(s, "transfer        {} bytes, NOT INTACT", r.delivered)
    };
    let _ = writeln!(s, "goodput         {}", mbit(r.goodput_bps()));
    let _ = writeln!(
        s,
        "utilisation     {:.1} % of {}",
        100.0 * r.goodput_bps() / capacity,
        mbit(capacity)
    );
    let _ = writeln!(s, "mathis bound    {}", mathis_line(cfg, rtt, capacity));
    let _ = writeln!(
        s,
        "transfer time   {:.3} s (virtual)",
        r.transfer_time.as_secs_f64()
    );
    let _ = writeln!(s, "segments sent   {}", r.segments_sent);
    if r.super_segments > 0 {
        let _ = writeln!(s, "super-segments  {} (TSO, both hosts)", r.super_segments);
    }
    let _ = writeln!(s, "retransmitted   {}", count(r.retransmits, "segment"));
    let _ = writeln!(s, "fast recoveries {}", r.fast_recoveries);
    let _ = writeln!(s, "RTOs            {}", r.rtos);
    let _ = writeln!(s, "tail probes     {}", r.tlp_probes);
    let _ = writeln!(
        s,
        "undone          {} ({} retransmitted for nothing)",
        count(r.undos, "reduction"),
        count(r.spurious_retransmit_bytes, "byte")
    );
    if let Some((p50, p99, max)) = percentiles(&r.exchange_times) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let _ = writeln!(
            s,
            "exchanges       {}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            r.exchange_times.len(),
            ms(p50),
            ms(p99),
            ms(max)
        );
    }
    let _ = writeln!(s, "final cwnd      {} bytes", r.final_cwnd);
    let ssthresh = if r.final_ssthresh == u32::MAX {
        "none".into()
    } else {
        format!("{} bytes", r.final_ssthresh)
    };
    let _ = writeln!(s, "final ssthresh  {ssthresh}");
    if let Some(rate) = r.final_pacing_rate {
        let _ = writeln!(s, "pacing rate     {}", mbit(rate as f64 * 8.0));
    }
    if let Some((mode, bw, min_rtt)) = r.final_model {
        let _ = writeln!(
            s,
            "bbr             {mode}, bandwidth {}, min RTT {}",
            mbit(bw as f64 * 8.0),
            min_rtt.map_or("-".into(), |d| format!(
                "{:.1} ms",
                d.as_secs_f64() * 1000.0
            ))
        );
    }
    let _ = writeln!(
        s,
        "srtt            {}",
        r.srtt.map_or("-".into(), |d| format!(
            "{:.1} ms",
            d.as_secs_f64() * 1000.0
        ))
    );
    let _ = writeln!(
        s,
        "losses          {} on the wire, {} in the queue",
        r.wire_losses, r.queue_drops
    );
    let _ = writeln!(
        s,
        "corrupted       {} (caught by checksums: {})",
        r.corrupted, r.bad_checksums_caught
    );
    let _ = writeln!(
        s,
        "closed cleanly  {}",
        if r.closed_cleanly { "yes" } else { "NO" }
    );
    let _ = writeln!(s, "wall time       {:.3} s", r.wall_time.as_secs_f64());
    s
}

/// `n` and `what`, in the plural unless `n` is 1.
fn count(n: impl Into<u64>, what: &str) -> String {
    let n = n.into();
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// The Mathis et al. bound (MSS / RTT · √(3/2) / √p), said only where it
/// means something: not without random loss, not when every packet is
/// lost, and marked when the link is slower than the bound.
fn mathis_line(cfg: &SimConfig, rtt: Duration, capacity: f64) -> String {
    let loss = cfg.link.loss;
    let rtt_ms = rtt.as_secs_f64() * 1000.0;
    if loss >= 1.0 {
        return "none (every packet lost)".into();
    }
    match mathis_bound_bps(u32::from(cfg.mss), rtt, loss) {
        None => "none (no random loss)".into(),
        Some(b) if b >= capacity => format!(
            "{}, above the link's {}: the link binds (loss {:.2} %, RTT {rtt_ms:.1} ms)",
            mbit(b),
            mbit(capacity),
            loss * 100.0
        ),
        Some(b) => format!(
            "{} (loss {:.2} %, RTT {rtt_ms:.1} ms)",
            mbit(b),
            loss * 100.0
        ),
    }
}

/// The median, the 99th percentile (nearest rank) and the largest.
fn percentiles(times: &[Duration]) -> Option<(Duration, Duration, Duration)> {
    let mut v = times.to_vec();
    v.sort_unstable();
    let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    let last = *v.last()?;
    Some((rank(0.5), rank(0.99), last))
}

/// A bar of `total` octets whose time is the simulation's (virtual),
/// not the wall clock's.
fn progress_bar(total: u64, target: ProgressDrawTarget) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("[{bar:40}] {msg} virtual  {bytes} / {total_bytes}")
            .expect("a valid template")
            .progress_chars("#> "),
    );
    bar
}

fn show(bar: &ProgressBar, p: Progress) {
    bar.set_position(p.delivered);
    bar.set_message(format!("{:>7.2} s", p.now.as_secs_f64()));
}

/// Runs `vtcp sim`; returns whether every transfer was intact and closed.
/// The progress bar draws to `bar_target` (`ProgressDrawTarget::stderr()`
/// hides it where standard error is not a terminal) unless `--quiet`.
pub fn sim(
    args: &SimArgs,
    out: &mut impl Write,
    bar_target: ProgressDrawTarget,
) -> io::Result<bool> {
    let base = args.config();
    if !args.compare {
        let total = base.bytes * u64::from(base.exchanges.max(1));
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            progress_bar(total, bar_target)
        };
        // Every output path is opened before the simulation runs, so that
        // a bad one fails at once and not after a long run.
        let plot_file = match &args.plot {
            Some(path) => Some(std::fs::File::create(path).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            })?),
            None => None,
        };
        let mut pcap = match &args.pcap {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
                })?;
                Some(PcapWriter::new(io::BufWriter::new(file))?)
            }
            None => None,
        };
        let plot = std::cell::RefCell::new(args.plot.as_ref().map(|_| TimeSequence::new()));
        let mut last_bar = Duration::ZERO;
        let r = run_with_tap(
            &base,
            |p| {
                if let Some(ts) = plot.borrow_mut().as_mut() {
                    ts.cwnd(p.now, p.cwnd);
                    if let Some(rate) = p.pacing_rate {
                        ts.rates(p.now, rate, p.bandwidth_estimate.unwrap_or(0));
                    }
                }
                if p.now >= last_bar + Duration::from_millis(100) {
                    last_bar = p.now;
                    show(&bar, p);
                }
            },
            |t, src, dst, bytes| {
                if let Some(ts) = plot.borrow_mut().as_mut() {
                    ts.observe(t, src, dst, bytes);
                }
                if let Some(w) = pcap.as_mut() {
                    // Keeps the first error for `finish`.
                    w.packet(t, Direction::Out, src, dst, bytes);
                }
            },
        );
        show(
            &bar,
            Progress {
                now: r.total_time,
                delivered: r.delivered,
                total,
                cwnd: r.final_cwnd,
                pacing_rate: r.final_pacing_rate,
                bandwidth_estimate: r.final_model.map(|m| m.1),
            },
        );
        bar.finish();
        if let Some(w) = pcap.as_mut() {
            w.finish()?;
        }
        if let (Some(path), Some(ts)) = (&args.plot, plot.into_inner()) {
            let title = format!(
                "{} bytes, {} Mbit/s, RTT {} ms, loss {} %, {}{}",
                base.bytes,
                args.bandwidth,
                args.rtt,
                args.loss * 100.0,
                args.cc,
                if base.sack { ", SACK" } else { "" }
            );
            let svg = ts
                .to_svg(&title)
                .map_err(|e| io::Error::other(format!("cannot draw {}: {e}", path.display())))?;
            if let Some(mut file) = plot_file {
                file.write_all(svg.as_bytes()).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
                })?;
            }
        }
        write!(out, "{}", summary(&base, &r))?;
        return Ok(r.intact && r.closed_cleanly);
    }
    writeln!(
        out,
        "{:<10} {:<9} {:>14} {:>8} {:>8} {:>6} {:>9}",
        "cc", "recovery", "goodput", "retrans", "fastrec", "RTOs", "time (s)"
    )?;
    let mut ok = true;
    for cc in Controller::ALL {
        for (sack, rack_tlp, name) in [
            (true, true, "rack-tlp"),
            (true, false, "sack"),
            (false, false, "newreno"),
        ] {
            let mut cfg = base.clone();
            cfg.congestion = cc;
            cfg.sack = sack;
            cfg.rack_tlp = rack_tlp;
            let r = run(&cfg, |_| {});
            ok &= r.intact && r.closed_cleanly;
            writeln!(
                out,
                "{:<10} {:<9} {:>14} {:>8} {:>8} {:>6} {:>9.3}",
                cc,
                name,
                mbit(r.goodput_bps()),
                r.retransmits,
                r.fast_recoveries,
                r.rtos,
                r.transfer_time.as_secs_f64()
            )?;
        }
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(loss: f64, bandwidth_bps: u64) -> SimConfig {
        let mut c = SimConfig::default();
        c.link.loss = loss;
        c.link.bandwidth_bps = bandwidth_bps;
        c.link.delay = Duration::from_millis(10);
        c
    }

    #[test]
    fn the_mathis_bound_is_said_only_where_it_binds() {
        let rtt = Duration::from_millis(20);
        let slow = cfg(0.0001, 10_000_000);
        assert!(mathis_line(&slow, rtt, 10e6).contains("the link binds"));
        let fast = cfg(0.02, 10_000_000_000);
        let line = mathis_line(&fast, rtt, 10e9);
        assert!(
            !line.contains("binds") && line.contains("RTT 20.0 ms"),
            "{line}"
        );
        assert_eq!(
            mathis_line(&cfg(1.0, 1), rtt, 1.0),
            "none (every packet lost)"
        );
        assert_eq!(mathis_line(&cfg(0.0, 1), rtt, 1.0), "none (no random loss)");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1u32, "segment"), "1 segment");
        assert_eq!(count(0u32, "segment"), "0 segments");
        assert_eq!(count(2u64, "byte"), "2 bytes");
    }
}

//! Two flows at once through the lab's shared bottleneck (100 Mbit/s, a
//! 100-packet queue, 20 ms base RTT): vtcp and the kernel each get a part
//! of the link, and together they fill most of it.
//!
//! Needs root, `ip` and `/dev/net/tun`, and runs only with
//! `VTCP_INTEROP=1` (`cargo test --release -p vtcp-lab --test fairness`
//! under it); anywhere else it prints that it skipped.

use std::time::Duration;

use vtcp_lab::fairness::{self, BOTTLENECK_BPS, Sender};
use vtcp_lab::lab_here;
use vtcp_lab::topo::SharedLab;

#[test]
fn vtcp_and_linux_cubic_share_one_bottleneck() {
    if !lab_here("vtcp_and_linux_cubic_share_one_bottleneck") {
        return;
    }
    let cfg = vtcp_sim::Controller::HighSpeed.stack_config();
    let lab = SharedLab::new(cfg, &fairness::path(), None).expect("the lab builds");
    let row = fairness::pair(
        &lab,
        &Sender::Vtcp("highspeed".into()),
        &Sender::Linux("cubic"),
        7700,
        Duration::from_secs(3),
    )
    .expect("both flows run");
    eprintln!("{}", fairness::table(std::slice::from_ref(&row)));
    let link = BOTTLENECK_BPS as f64 / 1e6;
    for f in [&row.a, &row.b] {
        assert!(
            f.mbps > 0.05 * link,
            "{} got {:.1} Mbit/s, under 5 % of the link",
            f.sender,
            f.mbps
        );
    }
    assert!(
        row.total() >= 0.7 * link,
        "together {:.1} Mbit/s, under 70 % of the link",
        row.total()
    );
    assert!(row.drops > 0, "the queue never filled: no bottleneck");
}

//! Uses every `no_std` crate of vtcp in a `#![no_std]` static library with
//! its own panic handler and allocator, so that a `std` dependency
//! anywhere below fails the build.
#![no_std]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::time::Duration;

use vtcp_buf::{RecvBuf, SendBuf};
use vtcp_cc::{CongestionController, NewReno};
use vtcp_cookie::{Addrs, SynAckParams, SynCookies};
use vtcp_rto::{RtoConfig, RtoEstimator};
use vtcp_seq::Seq;
use vtcp_wire::{Flags, Segment};

/// Never called at run time; it only has to link.
struct NoHeap;

unsafe impl GlobalAlloc for NoHeap {
    unsafe fn alloc(&self, _: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static HEAP: NoHeap = NoHeap;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// One call into each crate.
#[unsafe(no_mangle)]
pub extern "C" fn vtcp_no_std_check(input: *const u8, len: usize) -> u32 {
    // SAFETY: the caller passes a valid buffer of `len` bytes.
    let bytes = unsafe { core::slice::from_raw_parts(input, len) };
    let seq = Seq(len as u32) + 1;
    let mut cc = NewReno::new(1460);
    cc.on_ack(1460);
    let mut rto = RtoEstimator::new(RtoConfig::default());
    rto.sample(Duration::from_millis(10));
    let cookies = SynCookies::new([1; 16]);
    let addrs = Addrs {
        local: &[198, 18, 0, 1],
        remote: &[198, 18, 0, 2],
    };
    let mut total = cc.send_window() ^ rto.rto().as_millis() as u32;
    if let Ok(seg) = Segment::parse(bytes) {
        if seg.flags.contains(Flags::SYN) {
            let syn_ack =
                cookies.generate_synack(&seg, addrs, &SynAckParams::default(), Duration::ZERO);
            total ^= syn_ack.seq.0;
        }
    }
    let mut send = SendBuf::new(1024, seq);
    total ^= send.write(bytes) as u32;
    let mut recv = RecvBuf::new(1024, seq);
    total ^= recv.insert(seq, bytes) as u32;
    total
}

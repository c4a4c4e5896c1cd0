//! The packetdrill runner on arbitrary scripts: parsing never panics, and
//! a script that parses runs to an outcome without panicking (untrusted
//! script text, injected segments of any shape, calls in any order).

use crate::Verdict;

/// Runs one input.
pub fn run(data: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(data);
    if let Ok(script) = vtcp_drill::parse(&text, &["STANDARD"]) {
        // Keep each run short: a few dozen lines.
        if script.lines.len() <= 64 {
            let _ = vtcp_drill::run(&script, vtcp_drill::Profile::freebsd());
        }
    }
    Verdict::Keep
}

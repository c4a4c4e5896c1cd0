//! The lab's command: `vtcp-lab capture DIR` writes the Linux test
//! vectors (see `vtcp_lab::capture`). `cargo xtask capture-vectors` runs it
//! and adds tshark's decode.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cmd, dir] = args.as_slice() else {
        eprintln!("usage: vtcp-lab capture DIR");
        return ExitCode::from(2);
    };
    if cmd != "capture" {
        eprintln!("usage: vtcp-lab capture DIR");
        return ExitCode::from(2);
    }
    if let Some(why) = vtcp_lab::unavailable() {
        eprintln!("vtcp-lab: cannot run the lab: {why}");
        return ExitCode::FAILURE;
    }
    let dir = PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("vtcp-lab: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for (i, v) in vtcp_lab::capture::VARIANTS.iter().enumerate() {
        // A variant whose seeded loss happened to miss every data segment
        // is run again with the next seed: the vectors must show recovery.
        let mut seed = 1 + i as u64 * 100;
        loop {
            match vtcp_lab::capture::capture(&dir, v, seed) {
                Ok(again) if again > 0 => {
                    eprintln!("{}: done ({again} data segments sent again)", v.stem);
                    break;
                }
                Ok(_) if seed < 1 + i as u64 * 100 + 5 => seed += 1,
                Ok(_) => {
                    eprintln!("vtcp-lab: {}: no retransmission in five seeds", v.stem);
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("vtcp-lab: {}: {e}", v.stem);
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}

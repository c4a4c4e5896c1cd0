//! The generator of random scripts: seeded and reproducible, weighted so
//! that most scripts get through the handshake into data transfer and
//! teardown, with injected segments of every shape on the way (any flags,
//! sequence and ACK numbers inside and outside the windows, options,
//! stale timestamps), loss, waits and every socket call.

use vtcp::wire::Flags;

use super::script::{Call, Inject, Role, Script, Step, TsSpec, options_len};

/// SplitMix64: a small, good, seedable generator (Steele, Lea and Flood).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        let span = (hi - lo) as u64 + 1;
        lo + (self.next_u64() % span) as i64
    }

    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u64) -> bool {
        self.next_u64() % 100 < p
    }

    /// An index drawn by `weights`.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.next_u64() % total.max(1);
        for (k, w) in weights.iter().enumerate() {
            if x < *w {
                return k;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// What the generator keeps of the connection as the script goes.
struct State {
    ts: bool,
    sack: bool,
    /// Octets the system under test was asked to write.
    written: i64,
}

/// Every flag an injected segment may carry, for segments of any flags.
const ALL_FLAGS: [Flags; 8] = [
    Flags::FIN,
    Flags::SYN,
    Flags::RST,
    Flags::PSH,
    Flags::ACK,
    Flags::URG,
    Flags::ECE,
    Flags::CWR,
];

fn window(r: &mut Rng) -> u16 {
    match r.weighted(&[70, 4, 26]) {
        0 => 65_535,
        1 => 0,
        _ => r.range(1, 65_535) as u16,
    }
}

/// An offset: mostly 0, sometimes near, sometimes far outside any window.
fn offset(r: &mut Rng, zero: u64, near: i64) -> i64 {
    match r.weighted(&[zero, 12, 6, 3]) {
        0 => 0,
        1 => r.range(1, near),
        2 => -r.range(1, near),
        _ => r.range(-0x7fff_ffff, 0x7fff_ffff),
    }
}

fn ts(st: &State, r: &mut Rng) -> Option<TsSpec> {
    (st.ts && r.chance(96)).then(|| TsSpec {
        old: r.chance(4),
        echo: r.chance(97),
    })
}

fn data_segment(st: &State, r: &mut Rng) -> Inject {
    let mut i = Inject::new(if r.chance(70) {
        Flags::PSH | Flags::ACK
    } else {
        Flags::ACK
    });
    i.len = r.range(1, 1400) as u16;
    i.seq = offset(r, 80, 5_000);
    i.ack = offset(r, 85, 3_000);
    i.win = window(r);
    i.ts = ts(st, r);
    i
}

fn pure_ack(st: &State, r: &mut Rng) -> Inject {
    let mut i = Inject::new(Flags::ACK);
    i.ack = offset(r, 75, 3_000);
    i.seq = offset(r, 92, 3_000);
    i.win = window(r);
    i.ts = ts(st, r);
    if st.sack && st.written > 2 && r.chance(40) {
        for _ in 0..r.range(1, 3) {
            let left = r.range(1, st.written);
            let right = r.range(left + 1, st.written + 1);
            i.sack.push((left as u32, right as u32));
        }
        if options_len(&i) > 40 {
            i.sack.truncate(2);
        }
    }
    i
}

fn any_flags(st: &State, r: &mut Rng) -> Inject {
    let mut flags = Flags::empty();
    for f in ALL_FLAGS {
        if r.chance(30) {
            flags |= f;
        }
    }
    let mut i = Inject::new(flags);
    i.seq = offset(r, 50, 70_000);
    i.ack = offset(r, 50, 70_000);
    if r.chance(30) {
        i.len = r.range(1, 500) as u16;
    }
    i.win = window(r);
    i.ts = ts(st, r);
    i
}

fn syn_options(i: &mut Inject, r: &mut Rng) {
    i.mss = r.chance(92).then(|| {
        if r.chance(80) {
            1460
        } else {
            r.range(64, 1460) as u16
        }
    });
    i.ws = r.chance(80).then(|| r.range(0, 14) as u8);
    i.sackok = r.chance(80);
    i.ts = r.chance(80).then_some(TsSpec {
        old: false,
        echo: false,
    });
}

/// The handshake, seen from the system under test's role.
fn handshake(role: Role, r: &mut Rng, steps: &mut Vec<Step>) -> State {
    let lose = |r: &mut Rng, steps: &mut Vec<Step>| {
        if r.chance(6) {
            steps.push(Step::Lose);
            steps.push(Step::Wait(r.range(0, 1_200) as u32));
        }
    };
    let mut syn = Inject::new(match role {
        Role::Server => Flags::SYN,
        Role::Client => Flags::SYN | Flags::ACK,
    });
    syn_options(&mut syn, r);
    if r.chance(5) {
        syn.flags |= ALL_FLAGS[r.range(0, 7) as usize];
    }
    if r.chance(8) {
        syn.ack = offset(r, 0, 100_000);
    }
    syn.win = if r.chance(90) { 65_535 } else { window(r) };
    let st = State {
        ts: syn.ts.is_some(),
        sack: syn.sackok,
        written: 0,
    };
    match role {
        Role::Server => {
            steps.push(Step::Call(Call::Listen));
            steps.push(Step::Inject(syn));
            lose(r, steps);
            let mut ack = Inject::new(Flags::ACK);
            ack.ts = ts(&st, r);
            if r.chance(8) {
                ack.ack = offset(r, 0, 100_000);
            }
            ack.win = window(r);
            steps.push(Step::Inject(ack));
            steps.push(Step::Call(Call::Accept));
        }
        Role::Client => {
            steps.push(Step::Call(Call::Connect));
            lose(r, steps);
            steps.push(Step::Inject(syn));
        }
    }
    st
}

/// The script of `seed`.
pub fn generate(seed: u64) -> Script {
    let mut r = Rng::new(seed);
    let role = if r.chance(50) {
        Role::Server
    } else {
        Role::Client
    };
    let mut steps = Vec::new();
    let mut st = handshake(role, &mut r, &mut steps);
    let n = r.range(4, 22);
    for _ in 0..n {
        // write, read, data, ACK, FIN, RST, SYN, any flags, lose, wait,
        // shutdown, close, abort, nodelay
        let weights = [14, 10, 16, 12, 5, 3, 2, 3, 5, 4, 3, 2, 1, 1];
        let step = match r.weighted(&weights) {
            0 => {
                let n = if r.chance(85) {
                    r.range(1, 4_000)
                } else {
                    r.range(4_001, 12_000)
                };
                st.written += n;
                Step::Call(Call::Write(n as u32))
            }
            1 => Step::Call(Call::Read(r.range(1, 5_000) as u32)),
            2 => Step::Inject(data_segment(&st, &mut r)),
            3 => Step::Inject(pure_ack(&st, &mut r)),
            4 => {
                let mut i = pure_ack(&st, &mut r);
                i.flags = Flags::FIN | Flags::ACK;
                i.sack.clear();
                Step::Inject(i)
            }
            5 => {
                let mut i = Inject::new(if r.chance(50) {
                    Flags::RST
                } else {
                    Flags::RST | Flags::ACK
                });
                i.seq = offset(&mut r, 60, 70_000);
                i.ts = ts(&st, &mut r);
                Step::Inject(i)
            }
            6 => {
                let mut i = Inject::new(Flags::SYN);
                i.seq = offset(&mut r, 30, 70_000);
                syn_options(&mut i, &mut r);
                Step::Inject(i)
            }
            7 => Step::Inject(any_flags(&st, &mut r)),
            8 => Step::Lose,
            9 => Step::Wait(r.range(50, 1_500) as u32),
            10 => Step::Call(Call::Shutdown),
            11 => Step::Call(Call::Close),
            12 => Step::Call(Call::Abort),
            _ => Step::Call(Call::Nodelay(r.chance(50))),
        };
        steps.push(step);
    }
    // Teardown: an orderly close from either end, mostly.
    if r.chance(80) {
        let mut fin = pure_ack(&st, &mut r);
        fin.flags = Flags::FIN | Flags::ACK;
        fin.sack.clear();
        let mut ack = Inject::new(Flags::ACK);
        ack.ts = ts(&st, &mut r);
        if r.chance(50) {
            steps.push(Step::Call(Call::Close));
            steps.push(Step::Inject(fin));
        } else {
            steps.push(Step::Inject(fin));
            steps.push(Step::Call(Call::Read(1_000)));
            steps.push(Step::Call(Call::Close));
        }
        steps.push(Step::Inject(ack));
    }
    steps.push(Step::Wait(r.range(0, 400) as u32));
    Script { role, steps }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_script_and_its_text_reads_back() {
        let mut roles = [0; 2];
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..300 {
            let s = generate(seed);
            assert_eq!(s, generate(seed), "seed {seed}");
            let text = s.to_string();
            assert_eq!(
                Script::parse(&text).as_ref(),
                Ok(&s),
                "seed {seed}:\n{text}"
            );
            roles[usize::from(s.role == Role::Client)] += 1;
            distinct.insert(text);
        }
        // Both roles, and no two seeds alike.
        assert!(roles[0] > 100 && roles[1] > 100, "{roles:?}");
        assert_eq!(distinct.len(), 300);
    }

    #[test]
    fn most_scripts_transfer_data_and_close() {
        let (mut data, mut closes) = (0, 0);
        for seed in 0..200 {
            let s = generate(seed);
            let has = |f: &dyn Fn(&Step) -> bool| s.steps.iter().any(f);
            data += u32::from(has(&|st| matches!(st, Step::Call(Call::Write(_)))));
            closes += u32::from(has(&|st| matches!(st, Step::Call(Call::Close))));
        }
        assert!(data > 140 && closes > 140, "{data} {closes}");
    }
}

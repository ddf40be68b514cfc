//! A deterministic in-memory link with seeded impairments.
//!
//! Contract: frames sent with [`SimLink::send`] at time `t` are delivered
//! by [`SimLink::recv`] at `t + delay (+ jitter)`, unless dropped; a frame
//! may be duplicated; reordering delays a frame by an extra amount so that
//! later frames overtake it. Every decision comes from a xorshift PRNG
//! seeded by the caller, so a run is reproducible from its seed. Two
//! directions are independent [`SimLink`]s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::{Duration, Instant};

/// Impairments of one direction of a link. Probabilities are in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Probability a frame is dropped.
    pub loss: f64,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Probability a frame is held back by `reorder_delay` extra.
    pub reorder: f64,
    /// Extra delay of a reordered frame.
    pub reorder_delay: Duration,
    /// One-way delay of every frame.
    pub delay: Duration,
    /// Uniform random extra delay in `[0, jitter)`.
    pub jitter: Duration,
}

impl Default for Impairment {
    fn default() -> Impairment {
        Impairment {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(5),
            delay: Duration::from_millis(1),
            jitter: Duration::ZERO,
        }
    }
}

/// A small, fast, seedable PRNG (xorshift64*), good enough for impairment.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; zero is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A float uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }
}

/// Counters of one link direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub delivered: u64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Instant,
    seq: u64,
    frame: Vec<u8>,
}

/// One direction of a simulated link.
#[derive(Debug)]
pub struct SimLink {
    impairment: Impairment,
    rng: Rng,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    stats: LinkStats,
}

impl SimLink {
    /// A link direction with `impairment`, its randomness seeded by `seed`.
    pub fn new(impairment: Impairment, seed: u64) -> SimLink {
        SimLink {
            impairment,
            rng: Rng::new(seed),
            queue: BinaryHeap::new(),
            seq: 0,
            stats: LinkStats::default(),
        }
    }

    /// Put a frame on the link at `now`.
    pub fn send(&mut self, now: Instant, frame: &[u8]) {
        self.stats.sent += 1;
        if self.rng.chance(self.impairment.loss) {
            self.stats.dropped += 1;
            return;
        }
        let copies = if self.rng.chance(self.impairment.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = now + self.impairment.delay;
            if !self.impairment.jitter.is_zero() {
                let jitter_us = self.impairment.jitter.as_micros() as u64;
                at += Duration::from_micros(self.rng.next_u64() % jitter_us.max(1));
            }
            if self.rng.chance(self.impairment.reorder) {
                self.stats.reordered += 1;
                at += self.impairment.reorder_delay;
            }
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                at,
                seq: self.seq,
                frame: frame.to_vec(),
            }));
        }
    }

    /// The next frame due by `now`, if any.
    pub fn recv(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.queue.peek().is_some_and(|Reverse(f)| f.at <= now) {
            self.stats.delivered += 1;
            return self.queue.pop().map(|Reverse(f)| f.frame);
        }
        None
    }

    /// When the next frame arrives.
    pub fn poll_at(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(f)| f.at)
    }

    /// Frames in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// Counters.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fate() {
        let imp = Impairment {
            loss: 0.3,
            duplicate: 0.2,
            reorder: 0.2,
            ..Impairment::default()
        };
        let run = |seed| {
            let mut link = SimLink::new(imp, seed);
            for i in 0..100u8 {
                link.send(Instant::from_millis(i as u64), &[i]);
            }
            let mut out = Vec::new();
            while let Some(f) = link.recv(Instant::from_secs(10)) {
                out.push(f[0]);
            }
            out
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn lossless_link_delivers_in_order_after_delay() {
        let mut link = SimLink::new(Impairment::default(), 1);
        link.send(Instant::ZERO, b"a");
        link.send(Instant::ZERO, b"b");
        assert_eq!(link.recv(Instant::ZERO), None);
        assert_eq!(link.poll_at(), Some(Instant::from_millis(1)));
        assert_eq!(
            link.recv(Instant::from_millis(1)).as_deref(),
            Some(&b"a"[..])
        );
        assert_eq!(
            link.recv(Instant::from_millis(1)).as_deref(),
            Some(&b"b"[..])
        );
    }
}

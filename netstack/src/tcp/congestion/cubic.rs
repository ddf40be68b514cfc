//! CUBIC congestion control (RFC 9438).
//!
//! After a loss CUBIC lowers the window to β (0.7) times the data in
//! flight, which is cwnd when the window was in use, and then grows it
//! as a cubic function of the time since the congestion-avoidance stage
//! began: fast at first, flattening out as it nears the window at which the
//! loss happened (W_max, the concave region), then accelerating again
//! beyond it (the convex region, probing for more bandwidth). Where Reno
//! would grow faster (small windows, short RTTs), CUBIC follows an estimate
//! of Reno's window instead (the Reno-friendly region).
//!
//! Contract, shared with [`Reno`](super::Reno): slow start (RFC 5681 §3.1
//! with RFC 3465's L = 2*SMSS) and the NewReno inflation/deflation during
//! fast recovery (RFC 5681 §3.2, RFC 6582) are Reno's; CUBIC decides the
//! growth in congestion avoidance and how far a loss lowers ssthresh. The
//! curve is anchored in time, so [`CongestionControl::on_ack`] needs `now`
//! and the smoothed RTT. Windows are kept in bytes; the RFC's formulas are
//! in segments, so they are evaluated with the current MSS, in `f64`, and
//! converted back with saturating casts before they touch the window.

use super::{initial_window, CongestionControl};
use crate::time::{Duration, Instant};

/// C, in segments per second cubed (RFC 9438 §4.1.1, §5.1).
const C: f64 = 0.4;
/// β_cubic = 7/10 (RFC 9438 §4.1.1), kept as a fraction so that ssthresh is
/// exact in bytes.
const BETA: (usize, usize) = (7, 10);
/// (1 + β_cubic) / 2 = 17/20, the fast-convergence factor (RFC 9438 §4.7).
const FAST_CONVERGENCE: (usize, usize) = (17, 20);
/// α_cubic = 3 (1 - β_cubic) / (1 + β_cubic) = 9/17 (RFC 9438 §4.3).
const ALPHA: (usize, usize) = (9, 17);

/// One congestion-avoidance stage: the curve's anchor and the Reno
/// estimate that runs alongside it. Started by the first ACK in congestion
/// avoidance after a reduction (RFC 9438 §4.2: t is measured from the
/// beginning of the current congestion avoidance stage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Epoch {
    /// t_epoch.
    start: Instant,
    /// K: when W_cubic reaches W_max, counted from `start`.
    k: Duration,
    /// W_est in bytes (RFC 9438 §4.3), starting from cwnd_epoch.
    w_est: usize,
    /// Acknowledged bytes scaled by α's numerator, not yet turned into
    /// W_est growth (byte counting for the Reno estimate).
    est_credit: usize,
    /// Remainder of the cubic increase, in bytes times cwnd: the per-ACK
    /// increase (target - cwnd) / cwnd is rarely a whole byte.
    inc_credit: usize,
}

/// Everything a spurious-loss undo restores (RFC 9438 §4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    cwnd: usize,
    ssthresh: usize,
    /// W_max in bytes: the window just before the last reduction, lowered
    /// by fast convergence. 0 until the first loss, and again after a
    /// timeout: the next stage then takes cwnd_epoch (RFC 9438 §4.8).
    w_max: usize,
    /// cwnd_prior: cwnd when ssthresh was last set (RFC 9438 §4.3, §4.6).
    cwnd_prior: usize,
    /// The current congestion-avoidance stage; `None` in slow start, in
    /// recovery, and until the first ACK after a reduction or idle restart.
    epoch: Option<Epoch>,
}

/// CUBIC (RFC 9438) with Reno's slow start and NewReno fast recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cubic {
    state: State,
    /// The state before the reduction of the current fast recovery.
    prior: Option<State>,
}

impl Cubic {
    /// Before the handshake: the initial window of the default MSS;
    /// ssthresh "arbitrarily high" (RFC 5681 §3.1); W_max unknown.
    pub fn new() -> Cubic {
        Cubic {
            state: State {
                cwnd: initial_window(536),
                ssthresh: usize::MAX,
                w_max: 0,
                cwnd_prior: 0,
                epoch: None,
            },
            prior: None,
        }
    }

    /// W_max in bytes (0 while unknown).
    pub fn w_max(&self) -> usize {
        self.state.w_max
    }

    /// K of the current congestion-avoidance stage, if one is running.
    pub fn k(&self) -> Option<Duration> {
        self.state.epoch.map(|e| e.k)
    }

    /// The congestion-avoidance step (RFC 9438 §4.2 to §4.5).
    fn congestion_avoidance(&mut self, acked: usize, mss: usize, now: Instant, rtt: Duration) {
        let s = &mut self.state;
        let mss = mss.max(1);
        let cwnd = s.cwnd.max(1);
        let mut e = match s.epoch {
            Some(e) => e,
            None => {
                // RFC 9438 §4.2: K = cbrt((W_max - cwnd_epoch) / C). With
                // W_max unknown (no loss yet, or after a timeout, §4.8) or
                // below cwnd_epoch, W_max = cwnd_epoch and K = 0.
                let k = if s.w_max > cwnd {
                    let segments = (s.w_max - cwnd) as f64 / mss as f64;
                    // NOTE: finite and positive here; zero is a safe fallback.
                    Duration::try_from_secs_f64((segments / C).cbrt()).unwrap_or(Duration::ZERO)
                } else {
                    s.w_max = cwnd;
                    Duration::ZERO
                };
                // RFC 9438 §4.3: W_est starts at cwnd_epoch.
                Epoch {
                    start: now,
                    k,
                    w_est: cwnd,
                    est_credit: 0,
                    inc_credit: 0,
                }
            }
        };

        // RFC 9438 §4.3: W_est += α_cubic * segments_acked / cwnd, in bytes
        // via byte counting; α_cubic becomes 1 once W_est reaches
        // cwnd_prior (Reno's own AIMD(1, 0.5) rate from then on).
        let alpha = if e.w_est >= s.cwnd_prior {
            ALPHA.1
        } else {
            ALPHA.0
        };
        e.est_credit = e.est_credit.saturating_add(acked.saturating_mul(alpha));
        let per_segment = cwnd.saturating_mul(ALPHA.1);
        let grown = e.est_credit / per_segment;
        e.est_credit -= grown * per_segment;
        e.w_est = e.w_est.saturating_add(grown.saturating_mul(mss));

        let t = now - e.start;
        let w_max = s.w_max as f64;
        let w_cubic = |t: Duration| -> f64 {
            let x = t.as_secs_f64() - e.k.as_secs_f64();
            C * x * x * x * mss as f64 + w_max
        };
        // RFC 9438 §4.2: target = W_cubic(t + RTT), kept within
        // [cwnd, 1.5 * cwnd]. The cast saturates (and maps NaN to 0).
        let target =
            (w_cubic(t.saturating_add(rtt)) as usize).clamp(cwnd, cwnd.saturating_add(cwnd / 2));
        // RFC 9438 §4.4 (concave) and §4.5 (convex): cwnd grows by
        // (target - cwnd) / cwnd per segment acknowledged, that is by
        // (target - cwnd) * acked / cwnd bytes.
        let credit = (e.inc_credit as u128).saturating_add((target - cwnd) as u128 * acked as u128);
        e.inc_credit = (credit % cwnd as u128) as usize;
        let grow = usize::try_from(credit / cwnd as u128).unwrap_or(usize::MAX);
        let cubic = s.cwnd.saturating_add(grow);
        s.cwnd = if w_cubic(t) < e.w_est as f64 {
            // RFC 9438 §4.3: Reno-friendly region, cwnd = W_est. Taking the
            // larger of the two (as Linux does) keeps an ACK from lowering
            // cwnd, and keeps the tie at the start of an epoch, where
            // W_cubic(0) = W_est = cwnd_epoch up to rounding, from
            // suppressing the cubic growth.
            cubic.max(e.w_est)
        } else {
            cubic
        };
        s.epoch = Some(e);
    }
}

impl Default for Cubic {
    fn default() -> Cubic {
        Cubic::new()
    }
}

/// `x * num / den` without intermediate overflow.
fn scale(x: usize, (num, den): (usize, usize)) -> usize {
    usize::try_from(x as u128 * num as u128 / den as u128).unwrap_or(usize::MAX)
}

impl CongestionControl for Cubic {
    fn window(&self) -> usize {
        self.state.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.state.ssthresh
    }

    fn on_established(&mut self, mss: usize, syn_lost: bool) {
        // RFC 6928 §2 / RFC 5681 §3.1, as Reno.
        self.state.cwnd = if syn_lost { mss } else { initial_window(mss) };
    }

    fn on_ack(&mut self, acked: usize, mss: usize, now: Instant, rtt: Option<Duration>) {
        let s = &mut self.state;
        if s.cwnd < s.ssthresh {
            // RFC 9438 §4.10: slow start as Reno (RFC 5681 §3.1 with
            // RFC 3465's L = 2*SMSS), up to ssthresh.
            s.cwnd = s
                .cwnd
                .saturating_add(acked.min(mss.saturating_mul(2)))
                .min(s.ssthresh.max(s.cwnd));
            return;
        }
        // Before the first RTT sample the curve is aimed at `now` itself.
        self.congestion_avoidance(acked, mss, now, rtt.unwrap_or(Duration::ZERO));
    }

    fn on_enter_recovery(&mut self, flight_size: usize, mss: usize) {
        self.prior = Some(self.state);
        let s = &mut self.state;
        let cwnd = s.cwnd;
        // RFC 9438 §4.7 fast convergence: a loss below the previous W_max
        // means the flow's share is shrinking; release bandwidth sooner.
        s.w_max = if cwnd < s.w_max {
            scale(cwnd, FAST_CONVERGENCE)
        } else {
            cwnd
        };
        s.cwnd_prior = cwnd;
        // RFC 9438 §4.6: ssthresh = flight_size * β_cubic, at least 2
        // segments. The RFC lets an implementation use cwnd instead only if
        // it keeps cwnd from growing while the sender is application
        // limited; this stack does not, so an idle-ish connection's cwnd
        // may be far above what the network carried (§4.6 note).
        s.ssthresh = scale(flight_size, BETA).max(mss.saturating_mul(2));
        // RFC 5681 §3.2 step 3: NewReno inflation by the three segments
        // that left the network, as Reno.
        s.cwnd = s.ssthresh.saturating_add(mss.saturating_mul(3));
        s.epoch = None;
    }

    fn on_dup_ack_in_recovery(&mut self, mss: usize) {
        // RFC 5681 §3.2 step 4: inflate.
        self.state.cwnd = self.state.cwnd.saturating_add(mss);
    }

    fn on_partial_ack(&mut self, acked: usize, mss: usize) {
        // RFC 6582 §3.2 step 5, as Reno.
        let s = &mut self.state;
        s.cwnd = s.cwnd.saturating_sub(acked);
        if acked >= mss {
            s.cwnd = s.cwnd.saturating_add(mss);
        }
        s.cwnd = s.cwnd.max(mss);
    }

    fn on_exit_recovery(&mut self, flight_size: usize, mss: usize) {
        // RFC 6582 §3.2 step 3, option 1, as Reno; the next ACK in
        // congestion avoidance starts a new epoch.
        let s = &mut self.state;
        s.cwnd = s.ssthresh.min(flight_size.max(mss).saturating_add(mss));
        s.epoch = None;
    }

    fn on_retransmit_timeout(&mut self, flight_size: usize, mss: usize, first: bool) {
        let s = &mut self.state;
        if first {
            // RFC 9438 §4.8: ssthresh as on a loss (§4.6); W_max is taken
            // from cwnd at the start of the next congestion-avoidance
            // stage, with K = 0. Not lowered again for the same data timing
            // out twice.
            s.cwnd_prior = s.cwnd;
            s.ssthresh = scale(flight_size, BETA).max(mss.saturating_mul(2));
            s.w_max = 0;
        }
        // RFC 5681 §3.1: the loss window is one segment.
        s.cwnd = mss;
        s.epoch = None;
        self.prior = None;
    }

    fn on_idle_restart(&mut self, mss: usize) {
        // RFC 5681 §4.1: restart window = min(IW, cwnd). The epoch restarts
        // too, so t never counts the idle time (as Linux's cubic does).
        let s = &mut self.state;
        s.cwnd = s.cwnd.min(initial_window(mss));
        s.epoch = None;
    }

    fn on_spurious_recovery(&mut self) {
        // RFC 9438 §4.9: restore cwnd, ssthresh, W_max and the epoch (with
        // its K) from before the reduction; cwnd and ssthresh are never
        // lowered by the undo (as Reno, Linux's tcp_undo_cwnd_reduction).
        if let Some(prior) = self.prior.take() {
            let s = &mut self.state;
            *s = State {
                cwnd: s.cwnd.max(prior.cwnd),
                ssthresh: s.ssthresh.max(prior.ssthresh),
                ..prior
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;
    const RTT: Duration = Duration::from_millis(200);

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    /// Congestion avoidance right after a loss at `w_max` segments: W_max
    /// = w_max, cwnd = ssthresh = 0.7 * w_max, no epoch yet.
    fn after_loss(w_max: usize) -> Cubic {
        let mut c = Cubic::new();
        c.on_established(MSS, false);
        while c.window() < w_max * MSS {
            c.on_ack(MSS, MSS, ms(0), None);
        }
        assert_eq!(c.window(), w_max * MSS);
        c.on_enter_recovery(c.window(), MSS);
        c.on_exit_recovery(c.window(), MSS);
        assert_eq!(c.window(), scale(w_max * MSS, BETA));
        c
    }

    /// One round trip: a window's worth of one-segment ACKs arriving at
    /// `now`.
    fn ack_round(c: &mut Cubic, now: Instant, rtt: Duration) {
        for _ in 0..c.window() / MSS {
            c.on_ack(MSS, MSS, now, Some(rtt));
        }
    }

    /// cwnd in segments after each round, rounds `rtt` apart from t = 0.
    fn run(c: &mut Cubic, rtt: Duration, rounds: usize) -> Vec<f64> {
        let step = rtt.as_millis() as u64;
        (0..rounds)
            .map(|i| {
                ack_round(c, ms(i as u64 * step), rtt);
                c.window() as f64 / MSS as f64
            })
            .collect()
    }

    #[test]
    fn k_is_cube_root_of_w_max_times_one_minus_beta_over_c() {
        let mut c = after_loss(100);
        assert_eq!(c.w_max(), 100 * MSS);
        assert_eq!(c.k(), None);
        c.on_ack(MSS, MSS, ms(0), Some(RTT));
        // K = cbrt(100 * (1 - 0.7) / 0.4) = cbrt(75) = 4.2172 s
        let k = c.k().expect("epoch started").as_secs_f64();
        assert!((k - 75f64.cbrt()).abs() < 1e-6, "K = {k}");
        assert!((k - 4.2172).abs() < 1e-3, "K = {k}");
    }

    #[test]
    fn growth_is_concave_up_to_w_max_then_convex_beyond() {
        let mut c = after_loss(100);
        // 45 rounds of 200 ms: t = 0 .. 8.8 s, K = 4.2 s.
        let w = run(&mut c, RTT, 45);
        let at_secs = |s: usize| w[s * 5];
        // Concave: each second adds less than the one before.
        let gains: Vec<f64> = (0..4).map(|s| at_secs(s + 1) - at_secs(s)).collect();
        assert!(
            gains.windows(2).all(|g| g[0] > g[1]),
            "concave gains {gains:?}"
        );
        // The plateau: W_max not passed until about K (one RTT early at
        // most, since the target looks one RTT ahead), and reached there.
        let before_k = w[..20].iter().cloned().fold(0.0, f64::max); // t < 4.0 s
        assert!(before_k <= 100.0, "overshot W_max before K: {before_k}");
        assert!((w[21] - 100.0).abs() < 1.0, "cwnd at K: {}", w[21]);
        // Convex: each second beyond K adds more than the one before.
        let gains: Vec<f64> = (5..8).map(|s| at_secs(s + 1) - at_secs(s)).collect();
        assert!(
            gains.windows(2).all(|g| g[0] < g[1]),
            "convex gains {gains:?}"
        );
        assert!(at_secs(8) > 115.0, "cwnd at 8 s: {}", at_secs(8));
    }

    #[test]
    fn target_looks_one_rtt_ahead() {
        // At t = 0 W_cubic(t) is cwnd_epoch itself; only the RTT lookahead
        // (W_cubic(0.2 s) = 74.07 segments) makes the first round grow.
        let mut c = after_loss(100);
        ack_round(&mut c, ms(0), RTT);
        let w = c.window() as f64 / MSS as f64;
        assert!(w > 72.0 && w < 74.1, "cwnd = {w}");
        let mut c = after_loss(100);
        for _ in 0..70 {
            c.on_ack(MSS, MSS, ms(0), None);
        }
        assert_eq!(c.window(), 70 * MSS);
    }

    #[test]
    fn target_is_capped_at_one_and_a_half_cwnd_per_rtt() {
        let mut c = after_loss(100);
        c.on_ack(MSS, MSS, ms(0), Some(RTT));
        let before = c.window();
        // Far beyond K: W_cubic is enormous, but one RTT of ACKs adds at
        // most half a window (RFC 9438 §4.2).
        ack_round(&mut c, Instant::from_secs(100), RTT);
        assert!(c.window() > before);
        assert!(
            c.window() <= before + before / 2,
            "{} > 1.5 * {before}",
            c.window()
        );
    }

    #[test]
    fn reno_friendly_region_dominates_at_small_window_and_short_rtt() {
        let rtt = Duration::from_millis(1);
        let mut c = after_loss(20);
        // K = cbrt(15) = 2.47 s; after 10 ms W_cubic has barely moved off
        // 14 segments, while Reno's estimate grew by 9/17 segment per RTT.
        let w = run(&mut c, rtt, 10);
        let t = Duration::from_millis(10);
        let k = c.k().expect("epoch").as_secs_f64();
        let cubic_alone = C * (t.as_secs_f64() - k).powi(3) + 20.0;
        assert!(cubic_alone < 14.5, "W_cubic = {cubic_alone}");
        assert!(w[9] > 18.0 && w[9] < 20.0, "cwnd after 10 RTTs: {}", w[9]);
    }

    #[test]
    fn reno_friendly_alpha_becomes_one_once_w_est_reaches_cwnd_prior() {
        let rtt = Duration::from_millis(1);
        let mut c = after_loss(20);
        let w = run(&mut c, rtt, 60);
        // Below cwnd_prior (20): 9/17 segment per RTT; above: 1 per RTT.
        assert!((w[9] - w[4] - 5.0 * 9.0 / 17.0).abs() <= 1.0, "{w:?}");
        assert_eq!(w[59] - w[49], 10.0, "{w:?}");
    }

    /// cwnd = 100 segments, in slow start.
    fn hundred_segments() -> Cubic {
        let mut c = Cubic::new();
        c.on_established(MSS, false);
        for _ in 0..90 {
            c.on_ack(MSS, MSS, ms(0), None);
        }
        assert_eq!(c.window(), 100 * MSS);
        c
    }

    #[test]
    fn recovery_sets_ssthresh_to_seven_tenths_of_a_full_window() {
        let mut c = hundred_segments();
        c.on_enter_recovery(100 * MSS, MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        // RFC 5681 §3.2 step 3 inflation, as Reno.
        assert_eq!(c.window(), 73 * MSS);
        // NewReno inflation/deflation as Reno.
        c.on_dup_ack_in_recovery(MSS);
        assert_eq!(c.window(), 74 * MSS);
        c.on_partial_ack(3 * MSS, MSS);
        assert_eq!(c.window(), 72 * MSS);
        c.on_exit_recovery(80 * MSS, MSS);
        assert_eq!(c.window(), 70 * MSS);
    }

    #[test]
    fn recovery_reduces_from_flight_size_when_application_limited() {
        let mut c = hundred_segments();
        // RFC 9438 §4.6 multiplies flight_size, not an unused cwnd; W_max
        // and cwnd_prior are still cwnd (§4.6, §4.7).
        c.on_enter_recovery(40 * MSS, MSS);
        assert_eq!(c.ssthresh(), 28 * MSS);
        assert_eq!(c.w_max(), 100 * MSS);
        assert_eq!(c.state.cwnd_prior, 100 * MSS);
    }

    #[test]
    fn recovery_keeps_ssthresh_at_least_two_segments() {
        let mut c = Cubic::new();
        c.on_established(MSS, true);
        c.on_ack(MSS, MSS, ms(0), None);
        assert_eq!(c.window(), 2 * MSS);
        c.on_enter_recovery(2 * MSS, MSS);
        assert_eq!(c.ssthresh(), 2 * MSS);
    }

    #[test]
    fn fast_convergence_lowers_w_max_when_loss_is_below_previous_w_max() {
        let mut c = after_loss(100);
        assert_eq!(c.w_max(), 100 * MSS);
        // A second loss at 70 segments, below W_max = 100:
        // W_max = 70 * (1 + 0.7) / 2 = 59.5 segments, not 70.
        c.on_enter_recovery(c.window(), MSS);
        assert_eq!(c.w_max(), 59_500);
        assert_eq!(c.ssthresh(), 49 * MSS);
    }

    #[test]
    fn loss_above_previous_w_max_sets_w_max_to_cwnd() {
        let mut c = after_loss(100);
        run(&mut c, RTT, 40);
        let cwnd = c.window();
        assert!(cwnd > 100 * MSS);
        c.on_enter_recovery(cwnd, MSS);
        assert_eq!(c.w_max(), cwnd);
    }

    #[test]
    fn timeout_gives_a_loss_window_of_one_segment() {
        let mut c = hundred_segments();
        c.on_retransmit_timeout(100 * MSS, MSS, true);
        assert_eq!(c.window(), MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        assert_eq!(c.k(), None);
        // The same data timing out again keeps ssthresh.
        c.on_retransmit_timeout(MSS, MSS, false);
        assert_eq!(c.window(), MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
    }

    #[test]
    fn after_timeout_the_curve_restarts_from_cwnd_epoch_with_k_zero() {
        let mut c = after_loss(100);
        c.on_retransmit_timeout(70 * MSS, MSS, true);
        assert_eq!(c.ssthresh(), 49 * MSS);
        // Slow start back to ssthresh, then RFC 9438 §4.8: K = 0 and W_max
        // = cwnd at the start of congestion avoidance, not the old 100.
        while c.window() < c.ssthresh() {
            c.on_ack(2 * MSS, MSS, ms(1000), Some(RTT));
        }
        c.on_ack(MSS, MSS, ms(1200), Some(RTT));
        assert_eq!(c.k(), Some(Duration::ZERO));
        assert_eq!(c.w_max(), 49 * MSS);
    }

    #[test]
    fn spurious_recovery_undo_restores_cwnd_ssthresh_w_max_and_k() {
        let mut c = after_loss(100);
        run(&mut c, RTT, 10);
        let before = c.clone();
        assert!(before.k().is_some());
        c.on_enter_recovery(c.window(), MSS);
        c.on_dup_ack_in_recovery(MSS);
        assert_ne!(c.state, before.state);
        c.on_spurious_recovery();
        assert_eq!(c.state, before.state);
        assert_eq!(c.w_max(), 100 * MSS);
        assert_eq!(c.k(), before.k());
    }

    #[test]
    fn idle_restart_resets_the_epoch_so_idle_time_does_not_count() {
        let mut c = after_loss(100);
        run(&mut c, RTT, 5);
        c.on_idle_restart(MSS);
        assert_eq!(c.window(), 10 * MSS);
        assert_eq!(c.k(), None);
        // 100 s later: slow start back to ssthresh, then a fresh epoch.
        while c.window() < c.ssthresh() {
            c.on_ack(2 * MSS, MSS, Instant::from_secs(100), Some(RTT));
        }
        let cwnd_epoch = c.window();
        assert_eq!(cwnd_epoch, 70 * MSS);
        ack_round(&mut c, Instant::from_secs(100), RTT);
        let k = c.k().expect("epoch").as_secs_f64();
        assert!((k - 75f64.cbrt()).abs() < 1e-6, "K = {k}");
        // Concave growth from 70 segments: W_cubic(RTT) is about 73, far
        // from the 1.5x jump that a t counting 100 s of idle would give.
        assert!(c.window() < 75 * MSS, "cwnd = {}", c.window());
    }

    #[test]
    fn slow_start_as_reno() {
        let mut c = Cubic::new();
        c.on_established(MSS, false);
        c.on_ack(MSS, MSS, ms(0), None);
        assert_eq!(c.window(), 11 * MSS);
        c.on_ack(5 * MSS, MSS, ms(0), None);
        assert_eq!(c.window(), 13 * MSS);
    }

    #[test]
    fn absurd_inputs_do_not_panic() {
        let mut c = after_loss(100);
        c.on_ack(
            usize::MAX,
            MSS,
            Instant::from_micros(u64::MAX),
            Some(Duration::MAX),
        );
        c.on_ack(MSS, 0, Instant::ZERO, None);
        c.on_ack(
            usize::MAX,
            usize::MAX,
            Instant::from_secs(1),
            Some(Duration::ZERO),
        );
        assert!(c.window() >= 70 * MSS);
    }
}

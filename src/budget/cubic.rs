//! The arithmetic of the AWS SDKs' adaptive retry mode: a token bucket whose
//! fill rate follows CUBIC, on a clock of seconds as `f64`, with no locking
//! and no clock of its own (see [`ClientRateLimiter`](super::ClientRateLimiter)).

/// The cost, in tokens, of sending a first attempt.
pub(super) const FIRST_ATTEMPT_COST: f64 = 1.0;
/// The cost of sending a retry.
pub(super) const RETRY_COST: f64 = 5.0;
/// The cost of sending a retry after a timeout.
pub(super) const TIMEOUT_RETRY_COST: f64 = 10.0;

/// The lowest fill rate, in requests per second.
const MIN_FILL_RATE: f64 = 0.5;
/// The lowest bucket capacity, in tokens.
const MIN_CAPACITY: f64 = 1.0;
/// The weight of the newest half second in the measured send rate.
const SMOOTH: f64 = 0.8;
/// How far the rate falls on a throttling error.
const BETA: f64 = 0.7;
/// How fast the rate grows back (CUBIC's `C`).
const SCALE: f64 = 0.4;

/// The limiter's whole state. Times are seconds on the limiter's own clock.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cubic {
    /// Tokens added per second once enabled.
    pub(super) fill_rate: f64,
    pub(super) max_capacity: f64,
    /// May go below zero: a request that had to wait was still charged.
    pub(super) capacity: f64,
    pub(super) last_refill: Option<f64>,
    /// Off until the first throttling error.
    pub(super) enabled: bool,
    /// The smoothed number of responses per second.
    pub(super) measured_rate: f64,
    /// The start of the half second being counted.
    pub(super) rate_bucket: f64,
    pub(super) responses_in_bucket: u64,
    /// The rate when the client was last throttled (CUBIC's `W_max`).
    pub(super) last_max_rate: f64,
    pub(super) last_throttle: f64,
    /// Cut the rate at most once per half second of throttling responses.
    pub(super) coalesce: bool,
}

impl Cubic {
    /// The state of a limiter created at `now`: off, with the measured rate at
    /// its floor.
    pub(super) fn new(now: f64) -> Self {
        Cubic {
            fill_rate: 0.0,
            max_capacity: f64::MAX,
            capacity: 0.0,
            last_refill: None,
            enabled: false,
            measured_rate: MIN_FILL_RATE,
            rate_bucket: now.floor(),
            responses_in_bucket: 0,
            last_max_rate: 0.0,
            last_throttle: now,
            coalesce: false,
        }
    }

    /// Takes `cost` tokens at `now` and returns the time to wait before
    /// sending: zero when the bucket held them, else the time it takes to
    /// refill them (they are taken all the same, so the bucket goes into
    /// debt). `None`, taking nothing, when that wait is longer than
    /// `max_wait`.
    pub(super) fn acquire(&mut self, now: f64, cost: f64, max_wait: f64) -> Option<f64> {
        if !self.enabled {
            return Some(0.0);
        }
        self.refill(now);
        let wait = if cost > self.capacity {
            (cost - self.capacity) / self.fill_rate
        } else {
            0.0
        };
        if wait > max_wait {
            return None;
        }
        self.capacity -= cost;
        Some(wait)
    }

    /// Takes in a response received at `now`: a throttling error lowers the
    /// rate (and turns the limiter on), anything else lets it grow back.
    pub(super) fn update(&mut self, now: f64, throttled: bool) {
        if throttled && self.coalesce && self.enabled && now - self.last_throttle < 0.5 {
            // The cut for this burst of throttles is made: count the response
            // only.
            self.measure(now);
            return;
        }
        self.measure(now);
        let calculated = if throttled {
            let rate = if self.enabled {
                self.measured_rate.min(self.fill_rate)
            } else {
                self.measured_rate
            };
            self.last_max_rate = rate;
            self.last_throttle = now;
            self.enabled = true;
            rate * BETA
        } else {
            self.cubic_success(now)
        };
        self.set_fill_rate(now, calculated.min(2.0 * self.measured_rate));
    }

    /// CUBIC's window: the time the rate takes to grow back to
    /// `last_max_rate` after a throttle.
    pub(super) fn time_window(&self) -> f64 {
        (self.last_max_rate * (1.0 - BETA) / SCALE).cbrt()
    }

    /// The rate CUBIC allows at `now` after the last throttle.
    pub(super) fn cubic_success(&self, now: f64) -> f64 {
        let dt = now - self.last_throttle - self.time_window();
        SCALE * dt.powi(3) + self.last_max_rate
    }

    fn refill(&mut self, now: f64) {
        if let Some(last) = self.last_refill {
            let added = (now - last) * self.fill_rate;
            self.capacity = self.max_capacity.min(self.capacity + added);
        }
        self.last_refill = Some(now);
    }

    fn set_fill_rate(&mut self, now: f64, rate: f64) {
        self.refill(now);
        let fill_rate = rate.max(MIN_FILL_RATE);
        // A debt stands for attempts already scheduled: they still go out
        // when their waits end, so keep the time it takes to pay it, not its
        // size in tokens. (The SDKs keep the tokens, so a throttle that cuts
        // the rate stretches the debt of a deep queue into minutes in which
        // every new attempt is turned away; nothing else differs.)
        if self.capacity < 0.0 && self.fill_rate > 0.0 {
            self.capacity *= fill_rate / self.fill_rate;
        }
        self.fill_rate = fill_rate;
        self.max_capacity = rate.max(MIN_CAPACITY);
        self.capacity = self.capacity.min(self.max_capacity);
    }

    /// Counts a response into the half-second buckets of the measured rate.
    fn measure(&mut self, now: f64) {
        let bucket = (now * 2.0).floor() / 2.0;
        self.responses_in_bucket += 1;
        if bucket > self.rate_bucket {
            let rate = self.responses_in_bucket as f64 / (bucket - self.rate_bucket);
            self.measured_rate = rate * SMOOTH + self.measured_rate * (1.0 - SMOOTH);
            self.responses_in_bucket = 0;
            self.rate_bucket = bucket;
        }
    }
}

/// The test vectors of smithy-rs's `client_rate_limiter.rs` (ported there from
/// the AWS SDK for Go v2), to the relative precision they use.
#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(expected: f64, got: f64) {
        let tolerance = f64::EPSILON * expected.abs().max(got.abs()) * 4.0;
        assert!(
            (expected - got).abs() <= tolerance,
            "expected {expected}, got {got}"
        );
    }

    /// A limiter last throttled at `at` when the rate was `rate`.
    fn throttled_at(at: f64, rate: f64) -> Cubic {
        Cubic {
            last_throttle: at,
            last_max_rate: rate,
            ..Cubic::new(0.0)
        }
    }

    #[test]
    fn beta_decrease() {
        assert_close(7.0, 10.0 * BETA);
        assert_close(7.0, throttled_at(1.0, 10.0).cubic_success(1.0));
    }

    #[test]
    fn the_first_throttle_turns_it_on() {
        let mut state = Cubic {
            rate_bucket: 0.0,
            last_throttle: 0.0,
            ..Cubic::new(0.0)
        };
        assert!(!state.enabled);
        assert_eq!(state.acquire(0.0, FIRST_ATTEMPT_COST, 0.0), Some(0.0));
        state.update(0.0, true);
        assert!(state.enabled);
        // Empty, filling at 0.5 per second: 2 s for a token. A caller that
        // cannot wait that long is refused and charged nothing.
        assert_eq!(state.acquire(0.0, FIRST_ATTEMPT_COST, 1.0), None);
        assert_eq!(state.capacity, 0.0);
        assert_eq!(
            state.acquire(0.0, FIRST_ATTEMPT_COST, f64::INFINITY),
            Some(2.0)
        );
        assert_eq!(state.capacity, -1.0);
    }

    #[test]
    fn calculated_rate_with_successes() {
        let state = throttled_at(5.0, 10.0);
        let table = [
            (5.0, 7.0),
            (6.0, 9.64893600966),
            (7.0, 10.000030849917364),
            (8.0, 10.453284520772092),
            (9.0, 13.408697022224185),
            (10.0, 21.26626835427364),
            (11.0, 36.425998516920465),
        ];
        for (now, rate) in table {
            // The table's rates carry 12 significant digits at most.
            let got = state.cubic_success(now);
            assert!((got - rate).abs() <= rate * 1e-11, "{now}: {got} != {rate}");
        }
    }

    #[test]
    fn calculated_rate_with_throttles() {
        let mut state = throttled_at(5.0, 10.0);
        let table = [
            (false, 5.0, 7.0),
            (false, 6.0, 9.64893600966),
            (true, 7.0, 6.754255206761999),
            (true, 8.0, 4.727978644733399),
            (false, 9.0, 4.670125557970046),
            (false, 10.0, 4.770870456867401),
            (false, 11.0, 6.011819748005445),
            (false, 12.0, 10.792973431384178),
        ];
        // As the source does: a throttle scales the previous calculated rate.
        let mut rate = 0.0;
        for (throttled, now, expected) in table {
            if throttled {
                rate *= BETA;
                state.last_throttle = now;
                state.last_max_rate = rate;
            } else {
                rate = state.cubic_success(now);
            }
            assert!((rate - expected).abs() <= expected * 1e-11, "{now}: {rate}");
        }
    }

    #[test]
    fn client_sending_rates() {
        // A limiter built with every field at its default, as the source's
        // test builds it: measured rate 0, buckets from 0, last throttle at 0.
        let mut state = Cubic {
            measured_rate: 0.0,
            rate_bucket: 0.0,
            last_throttle: 0.0,
            ..Cubic::new(0.0)
        };
        let table = [
            (false, 0.2, 0.0, 0.5),
            (false, 0.4, 0.0, 0.5),
            (false, 0.6, 4.800000000000001, 0.5),
            (false, 0.8, 4.800000000000001, 0.5),
            (false, 1.0, 4.16, 0.5),
            (false, 1.2, 4.16, 0.6912),
            (false, 1.4, 4.16, 1.0975999999999997),
            (false, 1.6, 5.632000000000001, 1.6384000000000005),
            (false, 1.8, 5.632000000000001, 2.3328),
            (true, 2.0, 4.3264, 3.0284799999999996),
            (false, 2.2, 4.3264, 3.48663917347026),
            (false, 2.4, 4.3264, 3.821874416040255),
            (false, 2.6, 5.66528, 4.053385727709987),
            (false, 2.8, 5.66528, 4.200373108479454),
            (false, 3.0, 4.333056, 4.282036558348658),
            (true, 3.2, 4.333056, 2.99742559084406),
            (false, 3.4, 4.333056, 3.4522263943863463),
        ];
        // The source's clock advances by 200 ms a step, so each time is the
        // nearest f64 to the table's literal, as here.
        for (throttled, now, measured, fill) in table {
            state.update(now, throttled);
            assert_close(measured, state.measured_rate);
            assert_close(fill, state.fill_rate);
        }
    }

    #[test]
    fn coalesced_throttles_cut_the_rate_once_per_half_second() {
        let run = |coalesce: bool| {
            // Sending 100 per second, in the half second that starts at 1 s.
            let mut state = Cubic {
                measured_rate: 100.0,
                coalesce,
                ..Cubic::new(1.0)
            };
            // Ten throttles within 0.1 s, then one in the next half second.
            let mut rates = Vec::new();
            for i in 0..10 {
                state.update(1.0 + f64::from(i) / 100.0, true);
                rates.push(state.fill_rate);
            }
            state.update(1.7, true);
            rates.push(state.fill_rate);
            rates
        };
        let sdk = run(false);
        let coalesced = run(true);
        // The SDKs cut by 0.7 at every throttle.
        assert_close(70.0, sdk[0]);
        assert_close(100.0 * BETA.powi(10), sdk[9]);
        // Coalesced: one cut for the burst, the next after half a second,
        // from the rate measured then: 11 responses in 0.5 s, smoothed.
        assert!(coalesced[..10].iter().all(|&r| r == 70.0), "{coalesced:?}");
        let measured = 22.0 * SMOOTH + 100.0 * (1.0 - SMOOTH);
        assert_close(measured * BETA, coalesced[10]);
    }

    #[test]
    fn requests_can_still_be_sent_when_enabled_and_waits_are_finite() {
        let mut state = Cubic {
            rate_bucket: 0.0,
            last_throttle: 0.0,
            ..Cubic::new(0.0)
        };
        state.update(0.0, true);
        let mut now = 0.0;
        // A deterministic walk of steps below a second.
        for i in 0..100u32 {
            now += f64::from(i * 37 % 100) / 100.0;
            let wait = state
                .acquire(now, FIRST_ATTEMPT_COST, f64::INFINITY)
                .unwrap();
            assert!(wait.is_finite() && wait >= 0.0, "{wait}");
            now += wait;
            state.update(now, false);
        }
        assert!(state.enabled);
        assert_close(now, state.last_refill.unwrap());
    }
}

//! The hardware watchdog, fed only while the device is healthy (tend(8),
//! WATCHDOG; tend.conf(5), `watchdog`, `watchdog-timeout`,
//! `watchdog-grace`, `critical`). Pure: when to feed, and whether to let
//! the board reset; the loop opens the device and writes (`watchdog_dev`).
//!
//! Healthy means every wanted `critical` service is in its good state — a
//! daemon `up` or `ready`, a oneshot `done` — or has been out of it for no
//! longer than the grace. A service stopped by hand is not wanted and never
//! counts. Once a critical service has been out of its good state for
//! longer than the grace, tend stops feeding for good and the hardware
//! resets the board.

use crate::conf::{Kind, SvcId};
use crate::service::State;
use crate::slot::Slot;

/// The feeding schedule and whether tend still feeds.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Feeder {
    /// Feed every this often: a third of the timeout in force.
    pub every_ms: u64,
    /// When the next feed is due.
    pub next_ms: u64,
    /// tend let the board reset: never fed again.
    pub stopped: bool,
}

impl Feeder {
    /// Feeds at once, then every third of `timeout_ms`.
    pub fn new(timeout_ms: u64, now: u64) -> Feeder {
        Feeder {
            every_ms: (timeout_ms / 3).max(1),
            next_ms: now,
            stopped: false,
        }
    }

    /// When the loop must wake for the watchdog: the next feed, unless
    /// feeding stopped.
    pub fn due(&self) -> Option<u64> {
        (!self.stopped).then_some(self.next_ms)
    }

    /// Whether to feed at `now`; if so the next feed is scheduled.
    pub fn feed_now(&mut self, now: u64) -> bool {
        if self.stopped || now < self.next_ms {
            return false;
        }
        self.next_ms = now + self.every_ms;
        true
    }
}

/// What the health check found.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Health {
    /// Healthy; the earliest time a critical service out of its good state
    /// would outlast the grace, if one is out of it.
    Fine(Option<u64>),
    /// This critical service has been out of its good state longer than the
    /// grace.
    Sick(SvcId),
}

/// Whether a service is where it should be.
fn good(kind: Kind, state: State) -> bool {
    match kind {
        Kind::Daemon => matches!(state, State::Up | State::Ready),
        Kind::Oneshot => matches!(state, State::Done | State::DoneStopped),
    }
}

/// Checks every critical service at `now`, noting in its slot since when
/// it is out of its good state.
pub fn check<F>(slots: &mut [Slot<F>], grace_ms: u64, now: u64) -> Health {
    // The earliest a service out of its good state outlasts the grace
    // (none: u64::MAX).
    let mut first = u64::MAX;
    for (slot, i) in slots.iter_mut().zip(0u8..) {
        let counts = slot.conf.critical && slot.svc.state.wanted();
        if !counts || good(slot.conf.kind, slot.svc.state) {
            slot.unwell_since = None;
            continue;
        }
        // (Milliseconds since boot and a grace of at most a u32: no
        // overflow.)
        let until = *slot.unwell_since.get_or_insert(now) + grace_ms;
        if now >= until {
            return Health::Sick(SvcId(i));
        }
        first = first.min(until);
    }
    Health::Fine((first < u64::MAX).then_some(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::Restart;
    use crate::service::tests::conf;

    fn slot(kind: Kind, critical: bool, state: State) -> Slot<()> {
        let mut c = conf(kind, Restart::Always, false);
        c.critical = critical;
        let mut s = Slot::new(c);
        s.svc.state = state;
        s
    }

    #[test]
    fn feeds_every_third_of_the_timeout_until_stopped() {
        let mut f = Feeder::new(15_000, 1000);
        assert!(f.feed_now(1000), "at once");
        assert!(!f.feed_now(5999));
        assert_eq!(f.due(), Some(6000));
        assert!(f.feed_now(6000));
        f.stopped = true;
        assert_eq!(f.due(), None);
        assert!(!f.feed_now(1_000_000));
    }

    #[test]
    fn a_critical_service_out_of_its_good_state_past_the_grace_is_sick() {
        let mut slots = [
            slot(Kind::Daemon, true, State::Up),
            slot(Kind::Oneshot, true, State::Done),
            slot(Kind::Daemon, false, State::Backoff),
            slot(Kind::Daemon, true, State::Backoff),
        ];
        assert_eq!(check(&mut slots, 60_000, 100), Health::Fine(Some(60_100)));
        assert_eq!(
            check(&mut slots, 60_000, 60_099),
            Health::Fine(Some(60_100))
        );
        // Back up in time: forgiven, and the clock starts again when it
        // next goes down.
        slots[3].svc.state = State::Ready;
        assert_eq!(check(&mut slots, 60_000, 60_099), Health::Fine(None));
        slots[3].svc.state = State::Starting;
        assert_eq!(
            check(&mut slots, 60_000, 70_000),
            Health::Fine(Some(130_000))
        );
        assert_eq!(check(&mut slots, 60_000, 130_000), Health::Sick(SvcId(3)));
    }

    #[test]
    fn a_service_stopped_by_hand_never_counts() {
        let mut slots = [
            slot(Kind::Daemon, true, State::Stopped),
            slot(Kind::Daemon, true, State::Stopping),
            slot(Kind::Oneshot, true, State::DoneStopped),
            slot(Kind::Oneshot, true, State::Failed),
        ];
        assert_eq!(check(&mut slots, 1000, 0), Health::Fine(Some(1000)));
        assert_eq!(check(&mut slots, 1000, 1000), Health::Sick(SvcId(3)));
    }
}

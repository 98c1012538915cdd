//! The accept gate: whether the listeners accept, and what happens to a
//! newcomer. Four things can hold newcomers off: thermal shedding, the
//! connection cap (with hysteresis), a descriptor back-off, and draining.

use std::time::{Duration, Instant};

use super::control::{Admission, ShedMode};
use super::settings::EngineSettings;
use super::shared::GateState;
use super::stats::RejectReason;

/// First back-off after EMFILE/ENFILE; doubles while the failure repeats.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest back-off.
pub const BACKOFF_MAX: Duration = Duration::from_millis(500);

/// Accept-side state of the loop.
#[derive(Debug)]
pub struct Gate {
    admission: Admission,
    capacity_mode: ShedMode,
    at_capacity: bool,
    backoff_until: Option<Instant>,
    next_backoff: Duration,
    draining: bool,
    registered: bool,
}

impl Gate {
    /// An open gate whose listeners are not registered yet.
    pub fn new(capacity_mode: ShedMode) -> Self {
        Gate {
            admission: Admission::Open,
            capacity_mode,
            at_capacity: false,
            backoff_until: None,
            next_backoff: BACKOFF_MIN,
            draining: false,
            registered: false,
        }
    }

    /// Whether the listeners should be registered for accept events.
    pub fn listening(&self) -> bool {
        !self.draining
            && self.backoff_until.is_none()
            && self.admission
                != (Admission::Shed {
                    mode: ShedMode::Pause,
                })
            && !self.capacity_paused()
    }

    /// True when the connection cap is reached and set to pause the listeners.
    fn capacity_paused(&self) -> bool {
        self.at_capacity && self.capacity_mode == ShedMode::Pause
    }

    /// Whether they are registered now.
    pub fn registered(&self) -> bool {
        self.registered
    }

    /// Records the registration the loop performed.
    pub fn set_registered(&mut self, registered: bool) {
        self.registered = registered;
    }

    /// Why a just-accepted connection must be closed at once, if it must.
    pub fn reject_reason(&self) -> Option<RejectReason> {
        if self.draining {
            Some(RejectReason::Draining)
        } else if let Admission::Shed { .. } = self.admission {
            Some(RejectReason::Thermal)
        } else if self.at_capacity {
            Some(RejectReason::Capacity)
        } else {
            None
        }
    }

    /// The current thermal admission.
    pub fn admission(&self) -> Admission {
        self.admission
    }

    /// Changes the thermal admission.
    pub fn set_admission(&mut self, admission: Admission) {
        self.admission = admission;
    }

    /// Changes what happens at the connection cap.
    pub fn set_capacity_mode(&mut self, mode: ShedMode) {
        self.capacity_mode = mode;
    }

    /// True while the connection cap holds (until the open count falls below 90 %).
    pub fn at_capacity(&self) -> bool {
        self.at_capacity
    }

    /// Updates the cap flag from the open count (on at the cap, off below
    /// 90 %). Returns true when the cap was just reached.
    pub fn update_capacity(&mut self, open: usize, settings: &EngineSettings) -> bool {
        if !self.at_capacity && open >= settings.max_connections {
            self.at_capacity = true;
            return true;
        }
        if self.at_capacity && open < settings.resume_below() {
            self.at_capacity = false;
        }
        false
    }

    /// Parks the listeners after EMFILE/ENFILE; returns the delay chosen.
    pub fn start_backoff(&mut self, now: Instant) -> Duration {
        let delay = self.next_backoff;
        self.backoff_until = Some(now + delay);
        self.next_backoff = (delay * 2).min(BACKOFF_MAX);
        delay
    }

    /// When the current back-off ends.
    pub fn backoff_until(&self) -> Option<Instant> {
        self.backoff_until
    }

    /// Ends the back-off once its time has come.
    pub fn end_backoff_if_due(&mut self, now: Instant) {
        if self.backoff_until.is_some_and(|until| now >= until) {
            self.backoff_until = None;
        }
    }

    /// An accept succeeded: the next back-off starts short again.
    pub fn accepted_ok(&mut self) {
        self.next_backoff = BACKOFF_MIN;
    }

    /// Stops accepting for good.
    pub fn set_draining(&mut self) {
        self.draining = true;
    }

    /// The state published for status and readiness.
    pub fn state(&self) -> GateState {
        if self.draining {
            GateState::Draining
        } else if let Admission::Shed { mode } = self.admission {
            // A capacity pause deregisters the listener whatever the thermal
            // mode: newcomers then wait in the backlog, and the state says so.
            match mode {
                ShedMode::Reject if !self.capacity_paused() => GateState::ShedReject,
                _ => GateState::ShedPause,
            }
        } else if self.at_capacity {
            match self.capacity_mode {
                ShedMode::Pause => GateState::AtCapacityPause,
                ShedMode::Reject => GateState::AtCapacityReject,
            }
        } else if self.backoff_until.is_some() {
            GateState::FdBackoff
        } else {
            GateState::Open
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max: usize, mode: ShedMode) -> EngineSettings {
        EngineSettings::capped_for_tests(max, mode)
    }

    #[test]
    fn capacity_has_hysteresis_and_pause_stops_listening() {
        let s = settings(100, ShedMode::Pause);
        let mut gate = Gate::new(ShedMode::Pause);
        assert!(!gate.update_capacity(99, &s));
        assert!(gate.listening());
        assert!(gate.update_capacity(100, &s));
        assert!(!gate.listening());
        assert_eq!(gate.state(), GateState::AtCapacityPause);
        gate.update_capacity(95, &s);
        assert!(!gate.listening(), "still within the 90 % band");
        gate.update_capacity(89, &s);
        assert!(gate.listening());
        assert_eq!(gate.reject_reason(), None);
    }

    #[test]
    fn reject_mode_keeps_listening_and_names_the_reason() {
        let s = settings(10, ShedMode::Reject);
        let mut gate = Gate::new(ShedMode::Reject);
        gate.update_capacity(10, &s);
        assert!(gate.listening());
        assert_eq!(gate.reject_reason(), Some(RejectReason::Capacity));
        assert_eq!(gate.state(), GateState::AtCapacityReject);
        gate.set_admission(Admission::Shed {
            mode: ShedMode::Reject,
        });
        assert_eq!(gate.reject_reason(), Some(RejectReason::Thermal));
        assert_eq!(gate.state(), GateState::ShedReject);
        gate.set_admission(Admission::Shed {
            mode: ShedMode::Pause,
        });
        assert!(!gate.listening());
    }

    #[test]
    fn thermal_reject_under_a_capacity_pause_reports_the_pause_that_happens() {
        let s = settings(10, ShedMode::Pause);
        let mut gate = Gate::new(ShedMode::Pause);
        gate.set_admission(Admission::Shed {
            mode: ShedMode::Reject,
        });
        assert_eq!(gate.state(), GateState::ShedReject);
        gate.update_capacity(10, &s);
        assert!(!gate.listening(), "the capacity pause deregisters");
        assert_eq!(gate.state(), GateState::ShedPause);
        gate.update_capacity(5, &s);
        assert_eq!(gate.state(), GateState::ShedReject);
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_resets_after_success() {
        let mut gate = Gate::new(ShedMode::Pause);
        let t0 = Instant::now();
        let delays: Vec<_> = (0..5).map(|_| gate.start_backoff(t0)).collect();
        assert_eq!(delays[0], BACKOFF_MIN);
        assert_eq!(delays[4], BACKOFF_MAX);
        assert!(delays
            .iter()
            .all(|d| *d >= BACKOFF_MIN && *d <= BACKOFF_MAX));
        assert!(!gate.listening());
        gate.end_backoff_if_due(t0 + BACKOFF_MAX);
        assert!(gate.listening());
        gate.accepted_ok();
        assert_eq!(gate.start_backoff(t0), BACKOFF_MIN);
    }
}

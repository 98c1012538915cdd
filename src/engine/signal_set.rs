//! The signals warden catches, and holding them back while `warden run` starts.
//!
//! Every signal whose default action ends the process is caught, except those that
//! report a fault in warden itself (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS,
//! SIGABRT) and SIGQUIT, whose core dump is what an operator sending it wants. Ending
//! by default action would leave the fan and cpufreq as warden set them; caught, each
//! is logged and ignored unless it is a stop (SIGTERM, SIGINT) or reload (SIGHUP).

use std::io;
use std::ops::RangeInclusive;

use libc::{
    SIGALRM, SIGHUP, SIGINT, SIGIO, SIGPROF, SIGPWR, SIGSTKFLT, SIGTERM, SIGUSR1, SIGUSR2,
    SIGVTALRM, SIGXCPU, SIGXFSZ,
};

/// The signals with a fixed number that the event loop catches.
const FIXED: [libc::c_int; 13] = [
    SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGPWR, SIGVTALRM, SIGPROF, SIGIO, SIGXCPU,
    SIGXFSZ, SIGSTKFLT,
];

/// The real-time signals, which the event loop catches too: the C library decides
/// their range at run time.
fn real_time() -> RangeInclusive<libc::c_int> {
    libc::SIGRTMIN()..=libc::SIGRTMAX()
}

/// Every signal the event loop catches: [`FIXED`] and the [`real_time`] ones.
pub fn caught() -> Vec<libc::c_int> {
    FIXED.into_iter().chain(real_time()).collect()
}

/// Catches every signal of [`caught`] through `add` (the event loop's
/// `Signals::add_signal`). A fixed one refused is an error; a real-time one refused is skipped
/// and named in the returned warnings (valgrind, for one, keeps `SIGRTMAX` for itself and
/// refuses it with `EINVAL`), so a profiler or checker can still run warden.
pub fn catch_each(mut add: impl FnMut(libc::c_int) -> io::Result<()>) -> io::Result<Vec<String>> {
    for signal in FIXED {
        add(signal)
            .map_err(|e| io::Error::new(e.kind(), format!("catching {}: {e}", name(signal))))?;
    }
    let mut warnings = Vec::new();
    for signal in real_time() {
        if let Err(error) = add(signal) {
            warnings.push(format!(
                "cannot catch {}: {error}; it keeps its default action, which ends warden \
                 without putting back the fan and cpufreq",
                name(signal)
            ));
        }
    }
    Ok(warnings)
}

/// A caught signal's name for the log: "SIGPWR", "SIGRTMIN+3", or its number.
pub fn name(signal: libc::c_int) -> String {
    if let Some(name) = signal_hook::low_level::signal_name(signal) {
        return name.to_owned();
    }
    match signal {
        SIGPWR => "SIGPWR".to_owned(),
        SIGSTKFLT => "SIGSTKFLT".to_owned(),
        rt if real_time().contains(&rt) => {
            format!("SIGRTMIN+{}", rt - libc::SIGRTMIN())
        }
        other => other.to_string(),
    }
}

/// The caught signals, blocked on the calling thread until [`HeldSignals::release`].
///
/// `warden run` holds them first thing, before the event loop exists to catch them: a
/// SIGTERM or SIGHUP that arrives while it reads its config or binds stays pending and
/// takes effect once the loop runs, instead of killing a half-started warden. Blocking
/// opens no file descriptor, so the sockets systemd passes from descriptor 3 on are
/// still the only ones there when they are taken.
pub struct HeldSignals {
    set: libc::sigset_t,
}

impl HeldSignals {
    /// Blocks every caught signal on the calling thread (and on threads it starts).
    pub fn hold() -> io::Result<HeldSignals> {
        // SAFETY: sigemptyset/sigaddset only write the set we own; every number is a
        // valid signal (fixed constants and the C library's own real-time range).
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in caught() {
                libc::sigaddset(&mut set, signal);
            }
            set
        };
        mask(libc::SIG_BLOCK, &set)?;
        Ok(HeldSignals { set })
    }

    /// Unblocks them: one that arrived meanwhile is delivered now, to the handlers the
    /// event loop installed. Call it once the loop exists.
    pub fn release(self) -> io::Result<()> {
        mask(libc::SIG_UNBLOCK, &self.set)
    }
}

fn mask(how: libc::c_int, set: &libc::sigset_t) -> io::Result<()> {
    // SAFETY: a valid set; the old mask is not wanted (null).
    let rc = unsafe { libc::pthread_sigmask(how, set, std::ptr::null_mut()) };
    match rc {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_and_sigquit_are_left_to_their_default_action() {
        let caught = caught();
        for left in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGTRAP,
            libc::SIGSYS,
            libc::SIGABRT,
            libc::SIGQUIT,
            libc::SIGKILL,
            libc::SIGSTOP,
        ] {
            assert!(!caught.contains(&left), "{left}");
        }
        assert!(caught.contains(&libc::SIGRTMIN()) && caught.contains(&libc::SIGRTMAX()));
        assert!(caught.contains(&SIGPWR) && caught.contains(&SIGTERM));
    }

    #[test]
    fn a_refused_real_time_signal_is_skipped_with_a_warning_and_a_refused_fixed_one_is_an_error() {
        let refused = libc::SIGRTMAX();
        let mut added = Vec::new();
        let warnings = catch_each(|signal| {
            if signal == refused {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            added.push(signal);
            Ok(())
        })
        .unwrap();
        assert_eq!(added.len(), caught().len() - 1);
        assert!(!added.contains(&refused) && added.contains(&libc::SIGRTMIN()));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(&format!("cannot catch {}: ", name(refused))),
            "{warnings:?}"
        );

        let error = catch_each(|signal| {
            if signal == SIGHUP {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            Ok(())
        })
        .unwrap_err();
        assert!(
            error.to_string().starts_with("catching SIGHUP: "),
            "{error}"
        );
    }

    #[test]
    fn every_caught_signal_has_a_name() {
        for signal in caught() {
            assert!(name(signal).starts_with("SIG"), "{signal}");
        }
        assert_eq!(name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
        assert_eq!(name(SIGPWR), "SIGPWR");
    }

    #[test]
    fn a_held_signal_is_pending_until_released() {
        // On a thread of its own, so the mask change stays there.
        std::thread::spawn(|| {
            let held = HeldSignals::hold().unwrap();
            // SAFETY: reading this thread's mask into a set we own.
            let blocked = unsafe {
                let mut now: libc::sigset_t = std::mem::zeroed();
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
                libc::sigismember(&now, SIGHUP) == 1 && libc::sigismember(&now, SIGTERM) == 1
            };
            assert!(blocked);
            held.release().unwrap();
            // SAFETY: as above.
            let released = unsafe {
                let mut now: libc::sigset_t = std::mem::zeroed();
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
                libc::sigismember(&now, SIGHUP) == 0
            };
            assert!(released);
        })
        .join()
        .unwrap();
    }
}

//! Commands other threads send into the event loop.
//!
//! A command goes through a `crossbeam-channel` and is followed by a
//! `mio::Waker` wake-up, so it arrives in the loop as one more readiness event.

use std::io;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use mio::Waker;

/// How new connections are held off while shedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedMode {
    /// Stop accepting: newcomers wait in the kernel backlog.
    Pause,
    /// Accept and close at once, so clients retry elsewhere without waiting.
    Reject,
}

/// Whether the loop admits new connections (established ones are never cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admit new connections.
    Open,
    /// Hold off new connections.
    Shed {
        /// Pause or reject.
        mode: ShedMode,
    },
}

impl Admission {
    /// The log's words: `open`, `shed (pause)` or `shed (reject)`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Admission::Open => "open",
            Admission::Shed {
                mode: ShedMode::Pause,
            } => "shed (pause)",
            Admission::Shed {
                mode: ShedMode::Reject,
            } => "shed (reject)",
        }
    }
}

/// A request to the event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Change the admission gate.
    SetAdmission(Admission),
    /// Begin draining, as on SIGTERM.
    Drain,
}

/// The sending half, cloneable and usable from any thread.
#[derive(Clone)]
pub struct ControlHandle {
    sender: Sender<Command>,
    waker: Arc<Waker>,
}

impl ControlHandle {
    /// Wraps a channel sender and the loop's waker.
    pub fn new(sender: Sender<Command>, waker: Arc<Waker>) -> Self {
        ControlHandle { sender, waker }
    }

    /// Queues a command and wakes the loop. Fails only once the loop is gone.
    pub fn send(&self, command: Command) -> io::Result<()> {
        match self.sender.try_send(command) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                // Bounded channel full: the loop has plenty to read already;
                // the wake below makes sure it does.
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "event loop has stopped",
                ))
            }
        }
        self.waker.wake()
    }
}

/// Creates the channel the loop reads commands from.
pub fn channel() -> (Sender<Command>, Receiver<Command>) {
    crossbeam_channel::bounded(256)
}

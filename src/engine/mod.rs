//! The connection engine: one `mio` event loop, every client in a slab.
//!
//! Everything that enters the loop arrives as a readiness event: client and
//! listening sockets, signals (through signal-hook's mio integration) and
//! commands from other threads (a channel plus a `mio::Waker`). The loop never
//! blocks except in `poll`, whose timeout is the next timer deadline.

mod accept;
mod accept_errors;
pub mod backlog;
mod capacity;
pub mod control;
mod drain;
mod gate;
mod heartbeat_timer;
pub mod idle;
pub mod listener;
mod rebind;
pub mod session;
pub mod sessions;
pub mod settings;
pub mod shared;
pub mod signal_set;
pub mod stats;
mod test_hooks;
pub mod token;
mod turns;

#[cfg(test)]
mod tests;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Events, Interest, Poll, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_mio::v1_0::Signals;

pub use control::{Admission, Command, ControlHandle, ShedMode};
pub use listener::{ListenError, Listener};
pub use settings::EngineSettings;
pub use shared::{GateState, LoopShared};

use accept::PendingAccepts;
use capacity::CapacityLog;
use gate::Gate;
use heartbeat_timer::HeartbeatTimer;
use session::{CloseReason, IoContext, Readiness, Session, Verdict};
use sessions::SessionTable;
use stats::LocalStats;
use test_hooks::{test_hook_armed, TestHooks};
use token::TokenKind;
use turns::ReadTurns;

pub use test_hooks::{PANIC_HOOK_ENV, WEDGE_HOOK_ENV};

/// How often the loop beats (and calls [`LoopHooks::heartbeat`]) at the latest.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// How often the loop copies its counters to the shared atomics.
const STATS_PUBLISH_INTERVAL: Duration = Duration::from_millis(10);
/// Readiness events taken per `poll`.
const EVENTS_PER_POLL: usize = 1024;

/// Callbacks from the loop into the daemon around it.
pub trait LoopHooks {
    /// SIGHUP: re-read the configuration. `None` keeps the running settings
    /// (the hook has logged why).
    fn reload(&mut self) -> Option<EngineSettings>;
    /// Called from the loop at least every [`heartbeat_interval`](Self::heartbeat_interval).
    fn heartbeat(&mut self, shared: &LoopShared, now: Instant);
    /// Longest gap between heartbeats (a watchdog may want it shorter).
    fn heartbeat_interval(&self) -> Duration {
        HEARTBEAT_INTERVAL
    }
    /// Draining has begun (first SIGTERM/SIGINT or a `Drain` command).
    fn draining(&mut self) {}
    /// The loop has applied what [`reload`](Self::reload) returned (listeners moved),
    /// so what the daemon moves now can take a port the listeners gave up. `applied`
    /// is what the loop runs with now: its `listen` stays the old one when a new
    /// address could not be bound.
    fn reloaded(&mut self, _applied: &EngineSettings) {}
}

/// Why [`EventLoop::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// Every connection finished during the drain.
    Drained,
    /// The drain deadline closed the remaining connections.
    DrainDeadline,
    /// A second SIGTERM/SIGINT arrived while draining.
    Forced,
}

/// The words of the daemon's last log line, `stopped: <reason>`.
impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExitReason::Drained => "drained, every connection finished",
            ExitReason::DrainDeadline => {
                "drain deadline (server.drain_timeout_s) reached, remaining connections cut"
            }
            ExitReason::Forced => "second stop signal while draining, remaining connections cut",
        })
    }
}

/// The single-threaded connection engine.
pub struct EventLoop {
    poll: Poll,
    signals: Signals,
    commands: Receiver<Command>,
    waker: Arc<Waker>,
    listeners: Vec<Option<Listener>>,
    sessions: SessionTable,
    buf: Box<[u8]>,
    settings: EngineSettings,
    gate: Gate,
    shared: Arc<LoopShared>,
    local: LocalStats,
    started: Instant,
    next_publish: Instant,
    published_gate: GateState,
    /// Something that can change the gate happened since the last sync.
    gate_dirty: bool,
    drain_deadline: Option<Instant>,
    exit: Option<ExitReason>,
    test_hooks: TestHooks,
    log_limit: crate::logging::RateLimit,
    /// The "at capacity" / "below capacity again" lines.
    capacity_log: CapacityLog,
    /// Sessions that used their reads with data still waiting, for another turn.
    turns: ReadTurns,
    /// Listeners with connections waiting, accepted from after each pass's events.
    accepts: PendingAccepts,
}

impl EventLoop {
    /// Builds the loop around already-bound listeners.
    pub fn new(
        settings: EngineSettings,
        listeners: Vec<Listener>,
        commands: Receiver<Command>,
    ) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), token::WAKER)?);
        let wedge = test_hook_armed(WEDGE_HOOK_ENV);
        if wedge {
            log::warn!("{WEDGE_HOOK_ENV}=1: SIGUSR2 will wedge the event loop (test hook)");
        }
        let panic = test_hook_armed(PANIC_HOOK_ENV);
        if panic {
            log::warn!("{PANIC_HOOK_ENV}=1: SIGUSR1 will panic the event loop (test hook)");
        }
        // Any that would otherwise end the process without restoring the fan and cpufreq
        // is caught: a stop drains, SIGHUP reloads, the rest are logged and ignored.
        let mut signals = Signals::new(std::iter::empty::<libc::c_int>())?;
        for warning in signal_set::catch_each(|signal| signals.add_signal(signal))? {
            log::warn!("{warning}");
        }
        poll.registry()
            .register(&mut signals, token::SIGNALS, Interest::READABLE)?;
        let started = Instant::now();
        let shared = Arc::new(LoopShared::new(settings.max_connections));
        let mut this = EventLoop {
            poll,
            signals,
            commands,
            waker,
            listeners: listeners.into_iter().map(Some).collect(),
            sessions: SessionTable::with_capacity(settings.max_connections.min(1 << 16)),
            buf: vec![0u8; settings.read_buffer_bytes].into_boxed_slice(),
            gate: Gate::new(settings.at_capacity),
            settings,
            shared,
            local: LocalStats::default(),
            started,
            next_publish: started,
            published_gate: GateState::Open,
            gate_dirty: false,
            drain_deadline: None,
            exit: None,
            test_hooks: TestHooks { wedge, panic },
            log_limit: crate::logging::RateLimit::named(
                Duration::from_secs(10),
                "event-loop warnings (accept, register)",
            ),
            capacity_log: CapacityLog::new(),
            turns: ReadTurns::with_capacity(EVENTS_PER_POLL),
            accepts: PendingAccepts::new(),
        };
        this.sync_listeners();
        this.publish_listen_addrs();
        Ok(this)
    }

    /// The waker other threads use with the command channel.
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// State shared with other threads.
    pub fn shared(&self) -> Arc<LoopShared> {
        Arc::clone(&self.shared)
    }

    /// Publishes the addresses the loop listens on now.
    fn publish_listen_addrs(&self) {
        let addrs = self.listeners.iter().flatten().map(|l| l.addr).collect();
        self.shared.set_listen_addrs(addrs);
    }

    /// Runs until the drain after SIGTERM/SIGINT (or a `Drain` command) ends.
    pub fn run(&mut self, hooks: &mut dyn LoopHooks) -> io::Result<ExitReason> {
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        // One clock read per pass: at low load a pass carries one message, so
        // everything done per pass is paid per message.
        let mut now = Instant::now();
        let mut tick = self.tick(now);
        let mut next_tick_at = self.started + Duration::from_secs(u64::from(tick) + 1);
        let mut heartbeat = HeartbeatTimer::new(hooks.heartbeat_interval())?;
        self.poll
            .registry()
            .register(&mut heartbeat, token::HEARTBEAT, Interest::READABLE)?;
        self.shared.beat(now);
        hooks.heartbeat(&self.shared, now);
        loop {
            let timeout = self.next_timeout(now);
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            now = Instant::now();
            self.start_turns();
            let tick_changed = now >= next_tick_at;
            if tick_changed {
                tick = self.tick(now);
                next_tick_at = self.started + Duration::from_secs(u64::from(tick) + 1);
            }
            let mut beat = false;
            for event in events.iter() {
                match token::classify(event.token()) {
                    TokenKind::Session(key) => {
                        let ready = Readiness {
                            readable: event.is_readable() || event.is_error(),
                            writable: event.is_writable(),
                            read_closed: event.is_read_closed(),
                        };
                        self.on_session(key, ready, tick);
                    }
                    TokenKind::Listener(index) => self.accepts.mark(index),
                    TokenKind::Waker => self.take_commands(hooks, now),
                    TokenKind::Signals => self.take_signals(hooks, now),
                    TokenKind::Heartbeat => {
                        heartbeat.acknowledge();
                        beat = true;
                    }
                    TokenKind::Unknown(value) => {
                        if self.log_limit.allow(now) {
                            log::warn!("event for unknown token {value} ignored");
                        }
                    }
                }
            }
            self.serve_due_turns(tick);
            self.sessions.end_batch();
            self.after_batch(now, tick, tick_changed);
            // Last, once this pass's closes are counted: see `accept`.
            self.accept_pending(tick, now);
            if beat || now >= self.next_publish {
                self.publish_stats();
                self.next_publish = now + STATS_PUBLISH_INTERVAL;
            }
            if beat {
                self.shared.beat(now);
                hooks.heartbeat(&self.shared, now);
                self.catch_up_capacity_log(now);
                self.log_limit.flush(now);
            }
            if let Some(reason) = self.exit {
                self.publish_stats();
                return Ok(reason);
            }
        }
    }

    /// Copies the loop's counters to the shared atomics; `active` is derived
    /// from the session table here rather than kept up to date per close.
    fn publish_stats(&mut self) {
        self.local.active = self.sessions.open() as u64;
        self.shared.stats.publish(&self.local);
    }

    /// Seconds since start: the idle list's coarse clock.
    fn tick(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.started).as_secs() as u32
    }

    /// The poll timeout: zero while a session waits for a read turn or a listener
    /// for another accept turn, none in the common case (the heartbeat timer wakes
    /// the loop), else until the back-off end or drain deadline. Idle expiry
    /// needs no deadline of its own: it is checked whenever the one-second
    /// tick changes, and the heartbeat wakes the loop often enough.
    fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        if self.turns.waiting() || self.accepts.waiting() {
            return Some(Duration::ZERO);
        }
        let deadline = match (self.gate.backoff_until(), self.drain_deadline) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return None,
        };
        Some(deadline.saturating_duration_since(now))
    }

    #[inline]
    fn on_session(&mut self, key: usize, ready: Readiness, tick: u32) {
        let Some(Session::Echo(echo)) = self.sessions.get_mut(key) else {
            return; // closed earlier in this batch: a stale event
        };
        let stale_stamp = echo.link.stamp() != tick;
        let mut ctx = IoContext {
            buf: &mut self.buf,
            max_pending: self.settings.max_pending_bytes,
            stats: &mut self.local,
        };
        let verdict = echo.on_ready(ready, &mut ctx);
        if verdict == Verdict::ReadAgain {
            self.turns.queue(key);
        }
        match verdict {
            Verdict::Keep | Verdict::ReadAgain if stale_stamp => self.sessions.touch(key, tick),
            Verdict::Keep | Verdict::ReadAgain => {}
            Verdict::Close(reason) => self.close(key, reason),
        }
    }

    fn close(&mut self, key: usize, reason: CloseReason) {
        self.sessions.close(key);
        self.gate_dirty = true;
        self.local.closed += 1;
        match reason {
            CloseReason::PeerClosed => {}
            CloseReason::IoError => self.local.io_errors += 1,
            CloseReason::TimedOut => self.local.timed_out += 1,
            CloseReason::DrainDeadline => self.local.drain_closed += 1,
        }
    }

    /// Closes every open connection, counted as cut by the drain deadline;
    /// the keys stay taken until the caller ends the batch.
    fn cut_open_sessions(&mut self) {
        for key in self.sessions.open_keys() {
            self.close(key, CloseReason::DrainDeadline);
        }
    }

    fn after_batch(&mut self, now: Instant, tick: u32, tick_changed: bool) {
        if let (true, Some(limit)) = (tick_changed, self.settings.idle_timeout) {
            let limit = limit.as_secs().min(u64::from(u32::MAX)) as u32;
            while let Some((key, stamp)) = self.sessions.idlest() {
                // The stamp is a whole tick and the activity may have come up
                // to one tick after it: idle at least `limit` whole seconds.
                if tick.saturating_sub(stamp) <= limit {
                    break;
                }
                self.close(key, CloseReason::TimedOut);
            }
            self.sessions.end_batch();
        }
        if self.gate.backoff_until().is_some() {
            self.gate.end_backoff_if_due(now);
            self.gate_dirty = true;
        }
        if self.drain_deadline.is_some() {
            if self.sessions.open() == 0 {
                self.exit.get_or_insert(ExitReason::Drained);
            } else if self.drain_deadline.is_some_and(|d| now >= d) {
                self.cut_open_sessions();
                self.sessions.end_batch();
                self.exit.get_or_insert(ExitReason::DrainDeadline);
            }
        }
        // Only closes and a back-off ending can reopen the gate here; a pass
        // that only moved bytes skips the bookkeeping.
        if self.gate_dirty {
            self.recheck_capacity();
            self.gate_dirty = false;
        }
    }

    /// Registers or deregisters the listeners to match the gate.
    fn sync_listeners(&mut self) {
        let want = self.gate.listening();
        if want == self.gate.registered() {
            let state = self.gate.state();
            if state != self.published_gate {
                self.publish_gate(state);
            }
            return;
        }
        for (index, slot) in self.listeners.iter_mut().enumerate() {
            let Some(listener) = slot else { continue };
            let result = if want {
                self.poll.registry().register(
                    &mut listener.socket,
                    token::listener(index),
                    Interest::READABLE,
                )
            } else {
                self.poll.registry().deregister(&mut listener.socket)
            };
            if let Err(e) = result {
                log::error!(
                    "listener {}: cannot change registration: {e}",
                    listener.addr
                );
            }
        }
        self.gate.set_registered(want);
        self.publish_gate(self.gate.state());
    }

    /// Publishes a new gate state together with the counters, so that `/status`
    /// never shows the new state beside counters from before it.
    fn publish_gate(&mut self, state: GateState) {
        self.publish_stats();
        self.shared.set_gate(state);
        self.published_gate = state;
    }

    fn take_commands(&mut self, hooks: &mut dyn LoopHooks, now: Instant) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::SetAdmission(admission) => {
                    if self.gate.admission() != admission {
                        // The controller logged the change, with its reason, at info.
                        log::debug!("admission: {} applied", admission.as_str());
                        self.gate.set_admission(admission);
                        self.sync_listeners();
                    }
                }
                Command::Drain => self.begin_drain(hooks, now),
            }
        }
    }

    fn take_signals(&mut self, hooks: &mut dyn LoopHooks, now: Instant) {
        let mut pending: Vec<i32> = self.signals.pending().collect();
        // Stops first: a SIGHUP that came with a SIGTERM is then ignored, not reloaded
        // before the drain (the batch comes in signal-number order, SIGHUP first).
        pending.sort_by_key(|signal| !matches!(*signal, SIGTERM | SIGINT));
        for signal in pending {
            match signal {
                SIGTERM | SIGINT if self.drain_deadline.is_some() => {
                    let open = self.sessions.open();
                    log::warn!("second stop signal: exiting now, cutting {open} open connections");
                    // Closed and counted like the drain deadline's cut, so the
                    // final counters add up; the batch's end frees the keys.
                    self.cut_open_sessions();
                    self.exit = Some(ExitReason::Forced);
                }
                SIGTERM | SIGINT => self.begin_drain(hooks, now),
                SIGHUP if self.drain_deadline.is_some() => {
                    // The listeners are closed and the drain's deadline is set: nothing a
                    // reload changes could take effect, so nothing is read or reported.
                    log::warn!("SIGHUP while draining: ignored, warden is stopping");
                }
                SIGHUP => {
                    if let Some(settings) = hooks.reload() {
                        self.apply(settings);
                        hooks.reloaded(&self.settings);
                    }
                }
                SIGUSR2 if self.test_hooks.wedge => {
                    log::warn!("SIGUSR2 with {WEDGE_HOOK_ENV}=1: wedging the event loop");
                    loop {
                        std::thread::sleep(Duration::from_secs(3600));
                    }
                }
                SIGUSR1 if self.test_hooks.panic => {
                    panic!("SIGUSR1 with {PANIC_HOOK_ENV}=1: test panic in the event loop")
                }
                other => log::warn!(
                    "signal {} ignored: only SIGTERM, SIGINT (drain) and SIGHUP (reload) mean something to warden",
                    signal_set::name(other)
                ),
            }
        }
    }

    /// Applies reloaded settings without dropping a connection.
    fn apply(&mut self, mut new: EngineSettings) {
        if new.read_buffer_bytes != self.buf.len() {
            self.buf = vec![0u8; new.read_buffer_bytes].into_boxed_slice();
        }
        // Never while draining (a SIGHUP then is ignored): the listeners are open.
        if !self.rebind(&new) {
            // Still listening where it was, with the old backlog: the next reload
            // tries the new addresses and backlog again.
            new.listen.clone_from(&self.settings.listen);
            new.backlog = self.settings.backlog;
        }
        self.publish_listen_addrs();
        self.gate.set_capacity_mode(new.at_capacity);
        self.shared.set_max_connections(new.max_connections);
        self.settings = new;
        self.recheck_capacity();
        log::info!("configuration reloaded");
    }
}

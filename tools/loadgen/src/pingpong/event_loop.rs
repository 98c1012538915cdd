//! One pingpong event-loop thread: its own mio `Poll` and its share of the connections.
//!
//! Phases: open every connection (at most [`CONNECTS_IN_FLIGHT`] handshakes
//! at a time, each bounded by the timeout), report how many are up, wait
//! for the common start signal, run request/echo round trips until the end
//! of the measured window, then drain: let outstanding echoes come back
//! (bounded by the timeout) without sending more. Paced sends (`--rate`)
//! wait in a binary heap sized once for all connections, woken by a timerfd.
//! The per-message path (send, event, read, verify, record) neither
//! allocates nor locks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::echo::{check_quiet, EchoExchange, EchoProgress};
use crate::error_kind::{ErrorCounts, ErrorKind};
use crate::failure::{Failure, FailureLog};
use crate::histogram::LatencyHistogram;
use crate::net::{connect_progress, source_address, start_connect, ConnectProgress};
use crate::progress::LiveCounters;
use crate::send_timer::SendTimer;

/// Handshakes one thread keeps in flight while opening its connections.
pub const CONNECTS_IN_FLIGHT: usize = 256;
/// Token of the timerfd; connection tokens are their index in the thread.
const SEND_TIMER: Token = Token(usize::MAX);
/// How often connect and echo deadlines are checked.
const DEADLINE_SCAN: Duration = Duration::from_millis(100);
/// Readiness events taken per poll.
const EVENTS_PER_POLL: usize = 1024;
/// Largest single read of echo bytes.
const SCRATCH_BYTES: usize = 64 * 1024;

/// What one thread is asked to do.
pub struct ThreadPlan {
    /// Global ids of this thread's connections.
    pub connection_ids: Vec<u64>,
    /// Server address.
    pub target: SocketAddr,
    /// Loopback source addresses to spread over.
    pub sources: u8,
    /// Message size.
    pub size: usize,
    /// Connect and echo timeout.
    pub timeout: Duration,
    /// Latest moment the connect phase may end.
    pub connect_deadline: Instant,
    /// Total msgs/s cap across all threads; `None` = saturation.
    pub rate: Option<f64>,
    /// Connections across all threads (for staggering paced sends).
    pub total_connections: usize,
}

/// Sent to every thread once all have opened their connections.
#[derive(Debug, Clone, Copy)]
pub struct StartSignal {
    /// When sending starts (warmup begins).
    pub origin: Instant,
    /// Completions from here on are measured.
    pub measure_start: Instant,
    /// Sending stops here; completions from here on are not measured.
    pub measure_end: Instant,
    /// Connections established across all threads (sets the per-connection rate).
    pub established_total: usize,
}

/// What one thread measured.
pub struct ThreadResult {
    /// Round-trip latencies of measured messages.
    pub histogram: LatencyHistogram,
    /// Failures by kind.
    pub errors: ErrorCounts,
    /// Messages completed inside the measured window.
    pub msgs: u64,
    /// Echoed bytes verified over the whole run (warmup and drain included).
    pub verified_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotStarted,
    Connecting {
        since: Instant,
    },
    /// Established, nothing outstanding, not scheduled.
    Idle,
    /// Waiting in the heap for its scheduled send time.
    Scheduled,
    /// One message outstanding.
    InFlight,
    Closed,
}

struct Connection {
    id: u64,
    stream: Option<TcpStream>,
    phase: Phase,
    exchange: EchoExchange,
    sequence: u64,
    /// Latency origin of the outstanding message (its scheduled send time).
    scheduled_at: Instant,
    /// When the outstanding message was actually written (echo deadline origin).
    sent_at: Instant,
}

/// Runs one thread to completion. Always sends exactly one readiness report
/// on `ready`, even when setup fails, so the coordinator never waits in vain.
pub fn run_thread(
    plan: ThreadPlan,
    live: Arc<LiveCounters>,
    ready: Sender<usize>,
    start: Receiver<StartSignal>,
) -> io::Result<ThreadResult> {
    let mut pingpong = match PingpongLoop::new(plan, live) {
        Ok(pingpong) => pingpong,
        Err(error) => {
            let _ = ready.send(0);
            return Err(error);
        }
    };
    let opened = pingpong.open_connections();
    let _ = ready.send(pingpong.open);
    opened?;
    let Ok(signal) = start.recv() else {
        return Ok(pingpong.into_result());
    };
    pingpong.run(signal)?;
    pingpong.drain()?;
    Ok(pingpong.into_result())
}

struct PingpongLoop {
    plan: ThreadPlan,
    live: Arc<LiveCounters>,
    poll: Poll,
    events: Events,
    /// Tokens of the last poll, copied out so handlers may borrow `self`.
    ready_tokens: Vec<Token>,
    timer: SendTimer,
    connections: Vec<Connection>,
    schedule: BinaryHeap<Reverse<(Instant, usize)>>,
    scratch: Box<[u8]>,
    histogram: LatencyHistogram,
    errors: ErrorCounts,
    failure_log: FailureLog,
    open: usize,
    in_flight: usize,
    msgs: u64,
    verified_bytes: u64,
    interval: Option<Duration>,
    window: Option<(Instant, Instant)>,
}

impl PingpongLoop {
    fn new(plan: ThreadPlan, live: Arc<LiveCounters>) -> io::Result<PingpongLoop> {
        let poll = Poll::new()?;
        let timer = SendTimer::register(poll.registry(), SEND_TIMER)?;
        let now = Instant::now();
        let connections = plan
            .connection_ids
            .iter()
            .map(|&id| Connection {
                id,
                stream: None,
                phase: Phase::NotStarted,
                exchange: EchoExchange::new(plan.size),
                sequence: 0,
                scheduled_at: now,
                sent_at: now,
            })
            .collect::<Vec<_>>();
        let count = connections.len();
        Ok(PingpongLoop {
            live,
            poll,
            events: Events::with_capacity(EVENTS_PER_POLL),
            ready_tokens: Vec::with_capacity(EVENTS_PER_POLL),
            timer,
            schedule: BinaryHeap::with_capacity(count),
            scratch: vec![0; plan.size.min(SCRATCH_BYTES)].into_boxed_slice(),
            connections,
            histogram: LatencyHistogram::new(),
            errors: ErrorCounts::default(),
            failure_log: FailureLog::default(),
            open: 0,
            in_flight: 0,
            msgs: 0,
            verified_bytes: 0,
            interval: None,
            window: None,
            plan,
        })
    }

    /// Opens every connection of this thread, bounded by the connect deadline.
    fn open_connections(&mut self) -> io::Result<()> {
        let mut next = 0;
        let mut connecting = 0;
        let mut next_scan = Instant::now() + DEADLINE_SCAN;
        loop {
            while connecting < CONNECTS_IN_FLIGHT && next < self.connections.len() {
                if self.start_connect(next) {
                    connecting += 1;
                }
                next += 1;
            }
            if connecting == 0 && next == self.connections.len() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= self.plan.connect_deadline {
                for index in 0..self.connections.len() {
                    if matches!(
                        self.connections[index].phase,
                        Phase::NotStarted | Phase::Connecting { .. }
                    ) {
                        self.fail(index, Failure::timed_out(ErrorKind::ConnectTimeout));
                    }
                }
                return Ok(());
            }
            let wait = (self.plan.connect_deadline - now).min(DEADLINE_SCAN);
            self.poll_once(Some(wait))?;
            for position in 0..self.ready_tokens.len() {
                let Some(index) = self.event_index(position) else {
                    continue;
                };
                match self.connections[index].phase {
                    Phase::Connecting { .. } => {
                        let stream = self.connections[index]
                            .stream
                            .as_ref()
                            .expect("connecting has a stream");
                        match connect_progress(stream) {
                            Ok(ConnectProgress::Connected) => {
                                self.connections[index].phase = Phase::Idle;
                                connecting -= 1;
                            }
                            Ok(ConnectProgress::Pending) => {}
                            Err(error) => {
                                connecting -= 1;
                                self.fail(index, Failure::io(error, true));
                            }
                        }
                    }
                    Phase::Idle => self.check_idle(index),
                    _ => {}
                }
            }
            let now = Instant::now();
            if now >= next_scan {
                next_scan = now + DEADLINE_SCAN;
                for index in 0..self.connections.len() {
                    if let Phase::Connecting { since } = self.connections[index].phase {
                        if now.duration_since(since) >= self.plan.timeout {
                            connecting -= 1;
                            self.fail(index, Failure::timed_out(ErrorKind::ConnectTimeout));
                        }
                    }
                }
            }
        }
    }

    /// Starts connecting connection `index`; false if it failed at once.
    fn start_connect(&mut self, index: usize) -> bool {
        let id = self.connections[index].id;
        let source = source_address(id as usize, self.plan.sources);
        let started = start_connect(self.plan.target, source).and_then(|mut stream| {
            self.poll.registry().register(
                &mut stream,
                Token(index),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match started {
            Ok(stream) => {
                let connection = &mut self.connections[index];
                connection.stream = Some(stream);
                connection.phase = Phase::Connecting {
                    since: Instant::now(),
                };
                self.open += 1;
                self.live.set_open(self.open);
                true
            }
            Err(error) => {
                self.fail(index, Failure::io(error, true));
                false
            }
        }
    }

    /// Runs round trips from `signal.origin` until `signal.measure_end`.
    fn run(&mut self, signal: StartSignal) -> io::Result<()> {
        self.window = Some((signal.measure_start, signal.measure_end));
        self.interval = self
            .plan
            .rate
            .map(|rate| Duration::from_secs_f64(signal.established_total.max(1) as f64 / rate));
        for index in 0..self.connections.len() {
            if self.connections[index].phase != Phase::Idle {
                continue;
            }
            match self.interval {
                None => self.send_message(index, signal.origin),
                Some(interval) => {
                    // Stagger first sends so the total load is evenly spaced.
                    let fraction =
                        self.connections[index].id as f64 / self.plan.total_connections as f64;
                    self.enqueue(index, signal.origin + interval.mul_f64(fraction));
                }
            }
        }
        let mut next_scan = Instant::now() + DEADLINE_SCAN;
        loop {
            let now = Instant::now();
            if now >= signal.measure_end {
                return Ok(());
            }
            self.send_due(now)?;
            let wait = (signal.measure_end - now).min(next_scan.saturating_duration_since(now));
            self.poll_once(Some(wait))?;
            self.handle_events(true);
            let now = Instant::now();
            if now >= next_scan {
                next_scan = now + DEADLINE_SCAN;
                self.expire_echoes(now, self.plan.timeout);
            }
        }
    }

    /// Waits for outstanding echoes without sending more, up to the timeout.
    fn drain(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.plan.timeout;
        while self.in_flight > 0 {
            let now = Instant::now();
            if now >= deadline {
                self.expire_echoes(now, Duration::ZERO);
                break;
            }
            self.poll_once(Some((deadline - now).min(DEADLINE_SCAN)))?;
            self.handle_events(false);
        }
        Ok(())
    }

    fn poll_once(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.ready_tokens.clear();
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(error),
        }
        self.ready_tokens
            .extend(self.events.iter().map(|event| event.token()));
        Ok(())
    }

    /// Connection index of the `position`-th event, or None for the timer
    /// (acknowledged here) and for unknown tokens.
    fn event_index(&mut self, position: usize) -> Option<usize> {
        let token = self.ready_tokens[position];
        if token == SEND_TIMER {
            self.timer.acknowledge();
            return None;
        }
        (token.0 < self.connections.len()).then_some(token.0)
    }

    fn handle_events(&mut self, sending: bool) {
        for position in 0..self.ready_tokens.len() {
            let Some(index) = self.event_index(position) else {
                continue;
            };
            match self.connections[index].phase {
                Phase::InFlight => self.drive(index, sending),
                Phase::Idle | Phase::Scheduled => self.check_idle(index),
                _ => {}
            }
        }
    }

    fn drive(&mut self, index: usize, sending: bool) {
        let connection = &mut self.connections[index];
        let stream = connection.stream.as_ref().expect("in-flight has a stream");
        match connection.exchange.drive(stream, &mut self.scratch) {
            Ok(EchoProgress::Pending) => {}
            Ok(EchoProgress::Complete) => self.complete(index, sending),
            Err(failure) => self.fail(index, failure),
        }
    }

    fn complete(&mut self, index: usize, sending: bool) {
        let done = Instant::now();
        self.in_flight -= 1;
        let connection = &mut self.connections[index];
        connection.phase = Phase::Idle;
        connection.sequence += 1;
        self.verified_bytes += connection.exchange.size() as u64;
        self.live.add_completed();
        let scheduled_at = connection.scheduled_at;
        if let Some((start, end)) = self.window {
            if done >= start && done < end {
                self.msgs += 1;
                self.histogram
                    .record(done.duration_since(scheduled_at).as_nanos() as u64);
            }
        }
        if !sending {
            return;
        }
        match self.interval {
            None => self.send_message(index, done),
            Some(interval) => {
                let next = scheduled_at + interval;
                if next <= done {
                    self.send_message(index, next);
                } else {
                    self.enqueue(index, next);
                }
            }
        }
    }

    fn enqueue(&mut self, index: usize, at: Instant) {
        self.connections[index].phase = Phase::Scheduled;
        self.schedule.push(Reverse((at, index)));
    }

    /// Sends every paced message whose time has come and re-arms the timer.
    fn send_due(&mut self, now: Instant) -> io::Result<()> {
        while let Some(&Reverse((at, index))) = self.schedule.peek() {
            if at > now {
                return self.timer.ensure_armed_by(at, now);
            }
            self.schedule.pop();
            if self.connections[index].phase == Phase::Scheduled {
                self.send_message(index, at);
            }
        }
        Ok(())
    }

    /// Sends the next message of connection `index`; latency counts from `scheduled_at`.
    fn send_message(&mut self, index: usize, scheduled_at: Instant) {
        let connection = &mut self.connections[index];
        connection
            .exchange
            .prepare(connection.id, connection.sequence);
        connection.scheduled_at = scheduled_at;
        connection.sent_at = Instant::now();
        connection.phase = Phase::InFlight;
        self.in_flight += 1;
        let stream = connection
            .stream
            .as_ref()
            .expect("established has a stream");
        match connection.exchange.send(stream, &mut self.scratch) {
            Ok(EchoProgress::Pending) => {}
            // A message can only complete here if it was written in pieces.
            Ok(EchoProgress::Complete) => self.complete(index, true),
            Err(failure) => self.fail(index, failure),
        }
    }

    fn check_idle(&mut self, index: usize) {
        let stream = self.connections[index]
            .stream
            .as_ref()
            .expect("idle has a stream");
        if let Err(failure) = check_quiet(stream, &mut self.scratch) {
            self.fail(index, failure);
        }
    }

    /// Fails every message outstanding for at least `limit` at `now`.
    fn expire_echoes(&mut self, now: Instant, limit: Duration) {
        for index in 0..self.connections.len() {
            let connection = &self.connections[index];
            if connection.phase == Phase::InFlight
                && now.duration_since(connection.sent_at) >= limit
            {
                self.fail(index, Failure::timed_out(ErrorKind::EchoTimeout));
            }
        }
    }

    /// Counts `failure` and closes connection `index` for good.
    fn fail(&mut self, index: usize, failure: Failure) {
        self.errors.add(failure.kind);
        self.live.add_error();
        let connection = &mut self.connections[index];
        self.failure_log.note("pingpong", connection.id, &failure);
        if connection.phase == Phase::InFlight {
            self.in_flight -= 1;
        }
        connection.phase = Phase::Closed;
        if connection.stream.take().is_some() {
            self.open -= 1;
            self.live.set_open(self.open);
        }
    }

    fn into_result(self) -> ThreadResult {
        self.live.set_open(0);
        ThreadResult {
            histogram: self.histogram,
            errors: self.errors,
            msgs: self.msgs,
            verified_bytes: self.verified_bytes,
        }
    }
}

//! The hold event loop: open at a fixed rate, verify, hold, verify again.
//!
//! One mio `Poll` on the calling thread drives every connection through
//! NotStarted → Connecting → InitialEcho → Held → FinalEcho → Verified;
//! any failure ends in Failed with its kind counted. While connections are
//! held, any byte or hang-up from the server is a failure too (a held
//! connection must stay open and quiet). Every phase has a deadline.

use std::io;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::cli::HoldOptions;
use crate::echo::{check_quiet, EchoExchange, EchoProgress};
use crate::error_kind::{ErrorCounts, ErrorKind};
use crate::failure::{Failure, FailureLog};
use crate::net::{connect_progress, source_address, start_connect, ConnectProgress};
use crate::progress::{LiveSnapshot, ProgressPrinter};

/// How often connect and echo deadlines are checked.
const DEADLINE_SCAN: Duration = Duration::from_millis(100);
/// Readiness events taken per poll.
const EVENTS_PER_POLL: usize = 1024;
/// Sequence number of the message sent right after connecting.
const INITIAL_MESSAGE: u64 = 0;
/// Sequence number of the message sent after the hold.
const FINAL_MESSAGE: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotStarted,
    Connecting { since: Instant },
    InitialEcho { since: Instant },
    Held,
    FinalEcho { since: Instant },
    Verified,
    Failed,
}

struct HeldConnection {
    stream: Option<TcpStream>,
    phase: Phase,
    exchange: EchoExchange,
}

/// Counts of a finished hold run.
#[derive(Debug, Default)]
pub struct HoldCounts {
    /// Connections whose connect succeeded.
    pub established: u64,
    /// Connections that echoed the first message correctly.
    pub verified_initial: u64,
    /// Connections that echoed the second message correctly after the hold.
    pub verified_final: u64,
    /// Failures by kind.
    pub errors: ErrorCounts,
}

/// Drives all connections of a hold run.
pub struct HoldLoop<'a> {
    options: &'a HoldOptions,
    poll: Poll,
    events: Events,
    /// Tokens of the last poll, each with whether the peer has hung up
    /// (copied out so handlers may borrow `self`).
    ready_tokens: Vec<(Token, bool)>,
    connections: Vec<HeldConnection>,
    scratch: Box<[u8]>,
    counts: HoldCounts,
    failure_log: FailureLog,
    progress: ProgressPrinter,
    open: u64,
    busy: usize,
}

impl<'a> HoldLoop<'a> {
    /// Prepares (but does not open) `options.connections` connections.
    pub fn new(options: &'a HoldOptions, progress: ProgressPrinter) -> io::Result<HoldLoop<'a>> {
        let connections = (0..options.connections)
            .map(|_| HeldConnection {
                stream: None,
                phase: Phase::NotStarted,
                exchange: EchoExchange::new(options.size),
            })
            .collect();
        Ok(HoldLoop {
            options,
            poll: Poll::new()?,
            events: Events::with_capacity(EVENTS_PER_POLL),
            ready_tokens: Vec::with_capacity(EVENTS_PER_POLL),
            connections,
            scratch: vec![0; options.size].into_boxed_slice(),
            counts: HoldCounts::default(),
            failure_log: FailureLog::default(),
            progress,
            open: 0,
            busy: 0,
        })
    }

    /// Opens every connection at the configured rate and verifies each once.
    pub fn open_and_verify(&mut self) -> io::Result<()> {
        let origin = Instant::now();
        let spacing = Duration::from_secs_f64(1.0 / self.options.rate);
        let ramp = spacing.mul_f64(self.options.connections as f64);
        let deadline = origin + ramp + self.options.target.timeout * 2;
        let mut next = 0;
        let mut next_scan = origin + DEADLINE_SCAN;
        loop {
            let now = Instant::now();
            while next < self.connections.len() && origin + spacing.mul_f64(next as f64) <= now {
                self.start_connect(next);
                next += 1;
            }
            if next == self.connections.len() && self.busy == 0 {
                return Ok(());
            }
            if now >= deadline {
                self.fail_unfinished();
                return Ok(());
            }
            let next_start = if next < self.connections.len() {
                origin + spacing.mul_f64(next as f64)
            } else {
                deadline
            };
            let wake = next_start
                .min(next_scan)
                .min(self.progress.next_tick())
                .min(deadline);
            self.poll_once(wake.saturating_duration_since(now))?;
            self.handle_events();
            let now = Instant::now();
            if now >= next_scan {
                next_scan = now + DEADLINE_SCAN;
                self.expire(now);
            }
            self.print_progress(now);
        }
    }

    /// Keeps every verified connection open for `hold`, watching for hang-ups.
    pub fn hold(&mut self, hold: Duration) -> io::Result<()> {
        let end = Instant::now() + hold;
        loop {
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            self.poll_once(
                end.min(self.progress.next_tick())
                    .saturating_duration_since(now),
            )?;
            self.handle_events();
            self.print_progress(Instant::now());
        }
    }

    /// Sends a second message on every held connection and verifies the echoes.
    pub fn verify_again(&mut self) -> io::Result<()> {
        for index in 0..self.connections.len() {
            if self.connections[index].phase == Phase::Held {
                self.send(index, FINAL_MESSAGE);
            }
        }
        let deadline = Instant::now() + self.options.target.timeout;
        let mut next_scan = Instant::now() + DEADLINE_SCAN;
        while self.busy > 0 {
            let now = Instant::now();
            if now >= deadline {
                self.fail_unfinished();
                break;
            }
            self.poll_once(deadline.min(next_scan).saturating_duration_since(now))?;
            self.handle_events();
            let now = Instant::now();
            if now >= next_scan {
                next_scan = now + DEADLINE_SCAN;
                self.expire(now);
            }
        }
        Ok(())
    }

    /// Closes every connection and returns the counts.
    pub fn finish(self) -> HoldCounts {
        self.counts
    }

    fn poll_once(&mut self, timeout: Duration) -> io::Result<()> {
        self.ready_tokens.clear();
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(error),
        }
        self.ready_tokens.extend(
            self.events
                .iter()
                .map(|event| (event.token(), event.is_read_closed())),
        );
        Ok(())
    }

    fn start_connect(&mut self, index: usize) {
        let source = source_address(index, self.options.sources);
        let started = start_connect(self.options.target.addr, source).and_then(|mut stream| {
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
                self.busy += 1;
            }
            Err(error) => self.fail(index, Failure::io(error, true)),
        }
    }

    fn handle_events(&mut self) {
        for position in 0..self.ready_tokens.len() {
            let (Token(index), peer_hung_up) = self.ready_tokens[position];
            let Some(connection) = self.connections.get_mut(index) else {
                continue;
            };
            let Some(stream) = connection.stream.as_ref() else {
                continue;
            };
            let outcome = match connection.phase {
                Phase::Connecting { .. } => match connect_progress(stream) {
                    Ok(ConnectProgress::Pending) => continue,
                    Ok(ConnectProgress::Connected) => {
                        self.counts.established += 1;
                        self.busy -= 1;
                        self.send(index, INITIAL_MESSAGE);
                        continue;
                    }
                    Err(error) => Err(Failure::io(error, true)),
                },
                Phase::InitialEcho { .. } | Phase::FinalEcho { .. } => {
                    connection.exchange.drive(stream, &mut self.scratch)
                }
                Phase::Held => {
                    check_quiet(stream, &mut self.scratch).map(|()| EchoProgress::Pending)
                }
                // Done with it: what the server does now no longer matters.
                Phase::NotStarted | Phase::Verified | Phase::Failed => continue,
            };
            match outcome {
                Ok(EchoProgress::Pending) => {}
                Ok(EchoProgress::Complete) => {
                    self.verified(index);
                    // The hang-up may have come with the echo: its edge is
                    // spent, so no later event would reveal it.
                    if peer_hung_up && self.connections[index].phase == Phase::Held {
                        self.fail(index, Failure::closed_early());
                    }
                }
                Err(failure) => self.fail(index, failure),
            }
        }
    }

    /// Sends message `sequence` on established connection `index`.
    fn send(&mut self, index: usize, sequence: u64) {
        let connection = &mut self.connections[index];
        connection.exchange.prepare(index as u64, sequence);
        let since = Instant::now();
        connection.phase = if sequence == INITIAL_MESSAGE {
            Phase::InitialEcho { since }
        } else {
            Phase::FinalEcho { since }
        };
        self.busy += 1;
        let stream = connection
            .stream
            .as_ref()
            .expect("established has a stream");
        match connection.exchange.send(stream, &mut self.scratch) {
            Ok(EchoProgress::Pending) => {}
            Ok(EchoProgress::Complete) => self.verified(index),
            Err(failure) => self.fail(index, failure),
        }
    }

    fn verified(&mut self, index: usize) {
        let connection = &mut self.connections[index];
        self.busy -= 1;
        connection.phase = match connection.phase {
            Phase::InitialEcho { .. } => {
                self.counts.verified_initial += 1;
                Phase::Held
            }
            _ => {
                self.counts.verified_final += 1;
                Phase::Verified
            }
        };
    }

    /// Fails connects and echoes that have run past the timeout at `now`.
    fn expire(&mut self, now: Instant) {
        let timeout = self.options.target.timeout;
        for index in 0..self.connections.len() {
            let kind = match self.connections[index].phase {
                Phase::Connecting { since } if now.duration_since(since) >= timeout => {
                    ErrorKind::ConnectTimeout
                }
                Phase::InitialEcho { since } | Phase::FinalEcho { since }
                    if now.duration_since(since) >= timeout =>
                {
                    ErrorKind::EchoTimeout
                }
                _ => continue,
            };
            self.fail(index, Failure::timed_out(kind));
        }
    }

    /// At a phase deadline: fails everything not yet done.
    fn fail_unfinished(&mut self) {
        for index in 0..self.connections.len() {
            let kind = match self.connections[index].phase {
                Phase::NotStarted | Phase::Connecting { .. } => ErrorKind::ConnectTimeout,
                Phase::InitialEcho { .. } | Phase::FinalEcho { .. } => ErrorKind::EchoTimeout,
                _ => continue,
            };
            self.fail(index, Failure::timed_out(kind));
        }
    }

    /// Counts `failure` and closes connection `index` for good.
    fn fail(&mut self, index: usize, failure: Failure) {
        self.counts.errors.add(failure.kind);
        self.failure_log.note("hold", index as u64, &failure);
        let connection = &mut self.connections[index];
        if matches!(
            connection.phase,
            Phase::Connecting { .. } | Phase::InitialEcho { .. } | Phase::FinalEcho { .. }
        ) {
            self.busy -= 1;
        }
        connection.phase = Phase::Failed;
        if connection.stream.take().is_some() {
            self.open -= 1;
        }
    }

    fn print_progress(&mut self, now: Instant) {
        let snapshot = LiveSnapshot {
            completed: self.counts.verified_initial + self.counts.verified_final,
            errors: self.counts.errors.total(),
            open: self.open,
        };
        self.progress.print_if_due(now, snapshot);
    }
}

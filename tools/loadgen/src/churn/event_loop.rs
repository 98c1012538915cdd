//! One churn event-loop thread: its workers as nonblocking state machines.
//!
//! Each worker loops connect → send → read and verify the echo (and that no
//! byte beyond it has arrived) → close → connect again, with a fresh socket
//! every time. A worker's token carries a
//! generation that changes with every socket, so a readiness event of a
//! socket already closed can never drive its successor. After a failure the
//! worker pauses [`BACKOFF`] so a dead server is not hammered in a tight loop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::echo::{EchoExchange, EchoProgress};
use crate::error_kind::{ErrorCounts, ErrorKind};
use crate::failure::{Failure, FailureLog};
use crate::histogram::LatencyHistogram;
use crate::net::{connect_progress, start_connect, ConnectProgress};
use crate::progress::LiveCounters;

/// Pause of a worker after a failed exchange.
pub const BACKOFF: Duration = Duration::from_millis(10);
/// Longest wait between deadline checks; a back-off that ends sooner
/// shortens the wait (see `ChurnLoop::earliest_retry`).
const DEADLINE_SCAN: Duration = Duration::from_millis(100);
/// Readiness events taken per poll.
const EVENTS_PER_POLL: usize = 1024;
/// Low token bits hold the worker index, the rest its socket generation.
const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// What one thread is asked to do.
pub struct ThreadPlan {
    /// Global ids of this thread's workers.
    pub worker_ids: Vec<u64>,
    /// Server address.
    pub target: SocketAddr,
    /// Message size.
    pub size: usize,
    /// Connect and echo timeout.
    pub timeout: Duration,
    /// Start of the measured window (workers start here).
    pub measure_start: Instant,
    /// End of the measured window: no exchange starts after it.
    pub measure_end: Instant,
}

/// What one thread measured.
pub struct ThreadResult {
    /// Connect-to-verified-echo latencies of measured exchanges.
    pub histogram: LatencyHistogram,
    /// Failures by kind.
    pub errors: ErrorCounts,
    /// Exchanges completed inside the measured window.
    pub exchanges: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Exchanging,
    Backoff { until: Instant },
    Stopped,
}

struct Worker {
    id: u64,
    generation: usize,
    stream: Option<TcpStream>,
    phase: Phase,
    exchange: EchoExchange,
    sequence: u64,
    started: Instant,
}

/// Runs one churn thread until its window ends and its workers have drained.
pub fn run_thread(plan: ThreadPlan, live: Arc<LiveCounters>) -> io::Result<ThreadResult> {
    let mut churn = ChurnLoop::new(plan, live)?;
    churn.run()?;
    churn.drain()?;
    churn.live.set_open(0);
    Ok(ThreadResult {
        histogram: churn.histogram,
        errors: churn.errors,
        exchanges: churn.exchanges,
    })
}

struct ChurnLoop {
    plan: ThreadPlan,
    live: Arc<LiveCounters>,
    poll: Poll,
    events: Events,
    ready_tokens: Vec<Token>,
    workers: Vec<Worker>,
    scratch: [u8; 128],
    histogram: LatencyHistogram,
    errors: ErrorCounts,
    failure_log: FailureLog,
    exchanges: u64,
    open: usize,
    busy: usize,
    /// Earliest back-off end since the run loop last looked: a failure
    /// handled between scans must not wait for the next [`DEADLINE_SCAN`].
    earliest_retry: Option<Instant>,
}

impl ChurnLoop {
    fn new(plan: ThreadPlan, live: Arc<LiveCounters>) -> io::Result<ChurnLoop> {
        let now = Instant::now();
        let workers = plan
            .worker_ids
            .iter()
            .map(|&id| Worker {
                id,
                generation: 0,
                stream: None,
                phase: Phase::Stopped,
                exchange: EchoExchange::new(plan.size),
                sequence: 0,
                started: now,
            })
            .collect();
        Ok(ChurnLoop {
            live,
            poll: Poll::new()?,
            events: Events::with_capacity(EVENTS_PER_POLL),
            ready_tokens: Vec::with_capacity(EVENTS_PER_POLL),
            workers,
            scratch: [0; 128],
            histogram: LatencyHistogram::new(),
            errors: ErrorCounts::default(),
            failure_log: FailureLog::default(),
            exchanges: 0,
            open: 0,
            busy: 0,
            earliest_retry: None,
            plan,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let wait_for_start = self
            .plan
            .measure_start
            .saturating_duration_since(Instant::now());
        std::thread::sleep(wait_for_start);
        for index in 0..self.workers.len() {
            self.begin(index);
        }
        let mut next_scan = Instant::now() + DEADLINE_SCAN;
        loop {
            if let Some(retry) = self.earliest_retry.take() {
                next_scan = next_scan.min(retry);
            }
            let now = Instant::now();
            if now >= self.plan.measure_end {
                return Ok(());
            }
            let wait = (self.plan.measure_end - now).min(next_scan.saturating_duration_since(now));
            self.poll_once(wait)?;
            self.handle_events(true);
            let now = Instant::now();
            if now >= next_scan {
                self.scan(now, true);
                next_scan = now + DEADLINE_SCAN;
            }
        }
    }

    /// Lets exchanges in progress finish (no new ones), bounded by the timeout.
    fn drain(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.plan.timeout;
        while self.busy > 0 {
            let now = Instant::now();
            if now >= deadline {
                // Every exchange left started before the window closed, so
                // by now each has had its full timeout: fail them.
                self.scan(now, false);
                break;
            }
            self.poll_once((deadline - now).min(DEADLINE_SCAN))?;
            self.handle_events(false);
            self.scan(Instant::now(), false);
        }
        Ok(())
    }

    fn poll_once(&mut self, timeout: Duration) -> io::Result<()> {
        self.ready_tokens.clear();
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(error),
        }
        self.ready_tokens
            .extend(self.events.iter().map(|event| event.token()));
        Ok(())
    }

    /// Starts a new exchange on worker `index`: a fresh socket and connect.
    fn begin(&mut self, index: usize) {
        let worker = &mut self.workers[index];
        worker.generation = worker.generation.wrapping_add(1) & (usize::MAX >> INDEX_BITS);
        let token = Token(index | (worker.generation << INDEX_BITS));
        let started = start_connect(self.plan.target, None).and_then(|mut stream| {
            self.poll.registry().register(
                &mut stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match started {
            Ok(stream) => {
                worker.stream = Some(stream);
                worker.phase = Phase::Connecting;
                worker.started = Instant::now();
                self.busy += 1;
                self.open += 1;
                self.live.set_open(self.open);
            }
            Err(error) => self.fail(index, Failure::io(error, true)),
        }
    }

    fn handle_events(&mut self, continuing: bool) {
        for position in 0..self.ready_tokens.len() {
            let token = self.ready_tokens[position].0;
            let index = token & INDEX_MASK;
            let Some(worker) = self.workers.get(index) else {
                continue;
            };
            if worker.generation != token >> INDEX_BITS {
                continue; // an event of a socket this worker already closed
            }
            match worker.phase {
                Phase::Connecting => self.on_connect_event(index, continuing),
                Phase::Exchanging => self.on_echo_event(index, continuing),
                Phase::Backoff { .. } | Phase::Stopped => {}
            }
        }
    }

    fn on_connect_event(&mut self, index: usize, continuing: bool) {
        let worker = &mut self.workers[index];
        let stream = worker.stream.as_ref().expect("connecting has a stream");
        match connect_progress(stream) {
            Ok(ConnectProgress::Pending) => {}
            Ok(ConnectProgress::Connected) => {
                worker.exchange.prepare(worker.id, worker.sequence);
                worker.phase = Phase::Exchanging;
                match worker.exchange.send(stream, &mut self.scratch) {
                    Ok(EchoProgress::Pending) => {}
                    Ok(EchoProgress::Complete) => self.finish(index, continuing),
                    Err(failure) => self.fail(index, failure),
                }
            }
            Err(error) => self.fail(index, Failure::io(error, true)),
        }
    }

    fn on_echo_event(&mut self, index: usize, continuing: bool) {
        let worker = &mut self.workers[index];
        let stream = worker.stream.as_ref().expect("exchanging has a stream");
        match worker.exchange.drive(stream, &mut self.scratch) {
            Ok(EchoProgress::Pending) => {}
            Ok(EchoProgress::Complete) => self.finish(index, continuing),
            Err(failure) => self.fail(index, failure),
        }
    }

    /// A verified exchange (bytes beyond the echo that arrived with it already
    /// failed it as a mismatch): record it, close the socket, start the next one.
    fn finish(&mut self, index: usize, continuing: bool) {
        let done = Instant::now();
        let worker = &mut self.workers[index];
        worker.sequence += 1;
        let latency = done.duration_since(worker.started);
        let started = worker.started;
        self.close(index);
        self.live.add_completed();
        if started >= self.plan.measure_start && done < self.plan.measure_end {
            self.exchanges += 1;
            self.histogram.record(latency.as_nanos() as u64);
        }
        if continuing && done < self.plan.measure_end {
            self.begin(index);
        }
    }

    /// Retries backed-off workers and fails exchanges past the timeout.
    fn scan(&mut self, now: Instant, continuing: bool) {
        for index in 0..self.workers.len() {
            let worker = &self.workers[index];
            match worker.phase {
                Phase::Backoff { until } if now >= until => {
                    self.workers[index].phase = Phase::Stopped;
                    if continuing {
                        self.begin(index);
                    }
                }
                Phase::Backoff { until } => self.note_retry(until),
                Phase::Connecting if now.duration_since(worker.started) >= self.plan.timeout => {
                    self.fail(index, Failure::timed_out(ErrorKind::ConnectTimeout));
                }
                Phase::Exchanging if now.duration_since(worker.started) >= self.plan.timeout => {
                    self.fail(index, Failure::timed_out(ErrorKind::EchoTimeout));
                }
                _ => {}
            }
        }
    }

    /// Counts `failure`, closes the worker's socket and pauses the worker.
    fn fail(&mut self, index: usize, failure: Failure) {
        self.errors.add(failure.kind);
        self.live.add_error();
        self.failure_log
            .note("churn", self.workers[index].id, &failure);
        self.close(index);
        let until = Instant::now() + BACKOFF;
        self.workers[index].phase = Phase::Backoff { until };
        self.note_retry(until);
    }

    /// Makes the run loop wake by `until` to retry a backed-off worker.
    fn note_retry(&mut self, until: Instant) {
        self.earliest_retry = Some(self.earliest_retry.map_or(until, |due| due.min(until)));
    }

    fn close(&mut self, index: usize) {
        let worker = &mut self.workers[index];
        if matches!(worker.phase, Phase::Connecting | Phase::Exchanging) {
            self.busy -= 1;
        }
        worker.phase = Phase::Stopped;
        if worker.stream.take().is_some() {
            self.open -= 1;
            self.live.set_open(self.open);
        }
    }
}

//! The status server's network side: one thread with its own `mio` poll
//! (never the connection engine's) that accepts, reads request heads, hands
//! complete ones to the workers and writes their answers back.
//!
//! Why not tiny_http's own server: tiny_http 0.12 gives every accepted
//! connection a thread of an unbounded pool (`util::TaskPool` adds a thread
//! whenever none is idle) that reads the head with blocking reads, no
//! deadline and no size limit (`ClientConnection::read_next_line` grows a
//! `Vec` until CRLF). A client sending one byte a second holds such a thread
//! forever, and many of them cost a thread and a descriptor each, without
//! bound -- descriptors the event loop needs for its own clients. Socket
//! timeouts (SO_RCVTIMEO) bound each read, not the request. So this loop
//! owns the sockets and enforces, per connection:
//!
//! - one deadline from accept to the last byte of the answer
//!   (`status.request_timeout_ms`); past it the connection gets a 408 if it
//!   was still sending its head (a 503 if no worker had answered yet), and
//!   is closed;
//! - a head of at most [`MAX_HEAD_BYTES`](super::http::MAX_HEAD_BYTES) (else 431);
//! - at most [`MAX_CONNECTIONS`] open at once (fewer under a small open-file
//!   limit, see `rlimit::FdBudget`): at the cap, the connection
//!   that has been sending its head the longest is dropped for the newcomer,
//!   so slow clients can only displace each other, not fast ones.
//!
//! Reading and writing never block, so no client can hold this thread, and
//! the workers only ever see complete requests.
//!
//! The probes (`/healthz`, `/ready`) never reach a worker: this thread answers
//! them itself from the event loop's atomics and the thermal snapshot, so a
//! crowd of `/metrics` scrapers filling the queue cannot make a load balancer
//! or systemd read a healthy warden as down (a busy 503).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::http::{head_end, parse_head, RequestHead, MAX_HEAD_BYTES};
use super::routes::{error_response, is_probe};
use super::server::answer_bytes;
use super::snapshot::StatusSources;
use crate::logging::RateLimit;

/// Most status connections open at once (under a generous open-file limit).
pub const MAX_CONNECTIONS: usize = 128;
/// After the answer is written, how long a connection may take to close its side.
pub const LINGER: Duration = Duration::from_millis(500);
/// Token of the listening socket.
pub const LISTENER: Token = Token(usize::MAX - 1);
/// Token of the waker the workers and `stop` use.
pub const WAKER: Token = Token(usize::MAX - 2);

/// A complete request for a worker; `serial` tells a reused slab key apart.
#[derive(Debug)]
pub struct Job {
    /// Slab key of the connection.
    pub key: usize,
    /// Serial number of the connection.
    pub serial: u64,
    /// The parsed head.
    pub head: RequestHead,
}

/// A worker's answer, ready for the wire.
#[derive(Debug)]
pub struct Answer {
    /// Slab key of the connection.
    pub key: usize,
    /// Serial number of the connection.
    pub serial: u64,
    /// Status line, headers and (unless HEAD) body.
    pub bytes: Vec<u8>,
}

enum Phase {
    /// Receiving the head; `scanned` bytes of `buf` hold no head end.
    Reading { buf: Vec<u8>, scanned: usize },
    /// A worker has the request.
    Working,
    /// Sending `out[at..]`.
    Writing { out: Vec<u8>, at: usize },
    /// Answer sent and our side shut; waiting for the client to close.
    Lingering,
}

struct Conn {
    stream: TcpStream,
    serial: u64,
    accepted: Instant,
    deadline: Instant,
    phase: Phase,
}

/// What happened to a connection after an I/O step.
enum Step {
    Keep,
    Close,
}

/// The network thread's state.
pub struct IoLoop {
    poll: Poll,
    listener: TcpListener,
    conns: Slab<Conn>,
    next_serial: u64,
    jobs: Option<Sender<Job>>,
    answers: Receiver<Answer>,
    /// What the probes are answered from, on this thread.
    sources: Arc<StatusSources>,
    stop: Arc<AtomicBool>,
    request_timeout: Duration,
    max_connections: usize,
    log_limit: RateLimit,
}

impl IoLoop {
    /// A loop over an already-registered listener, holding at most
    /// `max_connections` (at least 1) open at once; it answers the probes
    /// from `sources` itself and queues every other request for the workers.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        poll: Poll,
        listener: TcpListener,
        jobs: Sender<Job>,
        answers: Receiver<Answer>,
        sources: Arc<StatusSources>,
        stop: Arc<AtomicBool>,
        request_timeout: Duration,
        max_connections: usize,
    ) -> IoLoop {
        let max_connections = max_connections.max(1);
        IoLoop {
            poll,
            listener,
            conns: Slab::with_capacity(max_connections),
            next_serial: 0,
            jobs: Some(jobs),
            answers,
            sources,
            stop,
            request_timeout,
            max_connections,
            log_limit: RateLimit::named(
                Duration::from_secs(10),
                "status server warnings (accept, dropped requests)",
            ),
        }
    }

    /// Serves until `stop` is set (and the waker woken); then closes every
    /// connection and drops the job sender, which ends the workers.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(256);
        while !self.stop.load(Relaxed) {
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("status server: poll failed: {e}; the status page stops answering");
                break;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => self.take_answers(),
                    Token(key) => self.on_ready(key),
                }
            }
            let now = Instant::now();
            self.expire(now);
            self.log_limit.flush(now);
        }
        self.jobs = None;
        for conn in self.conns.drain() {
            let _ = conn.stream.shutdown(Shutdown::Both);
        }
    }

    /// The earliest request deadline, or the end of the log limit's window while it
    /// holds lines back, so their count is written even when no new line comes.
    fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .map(|(_, c)| c.deadline)
            .chain(self.log_limit.flush_due())
            .min()
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _peer)) => self.admit(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: the listener stays readable, so
                    // retrying now would spin; the next connection retries.
                    if self.log_limit.allow(Instant::now()) {
                        log::warn!("status server: accept failed: {e}");
                    }
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream) {
        if self.conns.len() >= self.max_connections && !self.evict_slowest_reader() {
            return; // every slot is busy answering: dropping `stream` closes it
        }
        let _ = stream.set_nodelay(true);
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("status server: cannot register a connection: {e}");
            return;
        }
        let now = Instant::now();
        self.next_serial += 1;
        entry.insert(Conn {
            stream,
            serial: self.next_serial,
            accepted: now,
            deadline: now + self.request_timeout,
            phase: Phase::Reading {
                buf: Vec::new(),
                scanned: 0,
            },
        });
    }

    /// Closes the connection that has been sending its head the longest.
    fn evict_slowest_reader(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.phase, Phase::Reading { .. }))
            .min_by_key(|(_, c)| c.accepted)
            .map(|(key, _)| key);
        match oldest {
            Some(key) => {
                if self.log_limit.allow(Instant::now()) {
                    log::warn!(
                        "status server: {} connections open; dropping the slowest request",
                        self.max_connections
                    );
                }
                self.close(key);
                true
            }
            None => false,
        }
    }

    /// A readiness event for connection `key`. A key closed and reused
    /// within one poll batch may get the old socket's event; the handlers
    /// then just meet `WouldBlock`, so no generation check is needed.
    fn on_ready(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let step = match conn.phase {
            Phase::Reading { .. } => None,
            Phase::Working => Some(Step::Keep),
            Phase::Writing { .. } => Some(write_out(conn)),
            Phase::Lingering => Some(drain_until_eof(conn)),
        };
        let step = step.unwrap_or_else(|| self.read_head(key));
        if let Step::Close = step {
            self.close(key);
        }
    }

    fn read_head(&mut self, key: usize) -> Step {
        let mut chunk = [0u8; 2048];
        let conn = &mut self.conns[key];
        let Phase::Reading { buf, scanned } = &mut conn.phase else {
            return Step::Keep;
        };
        let end = loop {
            match conn.stream.read(&mut chunk) {
                Ok(0) => return Step::Close, // gave up before finishing its request
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    // The head end may straddle two reads: rescan the last 3 bytes.
                    let from = scanned.saturating_sub(3);
                    if let Some(end) = head_end(&buf[from..]) {
                        break Some(from + end);
                    }
                    *scanned = buf.len();
                    if buf.len() > MAX_HEAD_BYTES {
                        break None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Step::Close,
            }
        };
        let parsed = match end {
            Some(end) => parse_head(&buf[..end]),
            None => Err(super::http::HeadError::TooLarge),
        };
        match parsed {
            Ok(head) => self.dispatch(key, head),
            Err(e) => {
                let answer =
                    error_response(e.status(), &e.to_string()).to_bytes(SystemTime::now(), false);
                self.answer(key, answer)
            }
        }
    }

    fn dispatch(&mut self, key: usize, head: RequestHead) -> Step {
        if is_probe(&head) {
            // A few atomic loads and one short copy of the thermal snapshot.
            let bytes = answer_bytes(&self.sources, &head);
            return self.answer(key, bytes);
        }
        let serial = self.conns[key].serial;
        let Some(jobs) = &self.jobs else {
            return Step::Close;
        };
        match jobs.try_send(Job { key, serial, head }) {
            Ok(()) => {
                self.conns[key].phase = Phase::Working;
                Step::Keep
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let busy = error_response(
                    503,
                    "status server busy: every worker is answering; retry shortly",
                )
                .with_header("Retry-After", "1");
                self.answer(key, busy.to_bytes(SystemTime::now(), false))
            }
        }
    }

    /// Starts sending `bytes` on connection `key`.
    fn answer(&mut self, key: usize, bytes: Vec<u8>) -> Step {
        let conn = &mut self.conns[key];
        conn.phase = Phase::Writing { out: bytes, at: 0 };
        write_out(conn)
    }

    fn take_answers(&mut self) {
        while let Ok(answer) = self.answers.try_recv() {
            // The connection may have timed out, and its key been reused, meanwhile.
            let current = self
                .conns
                .get(answer.key)
                .is_some_and(|c| c.serial == answer.serial && matches!(c.phase, Phase::Working));
            if current {
                if let Step::Close = self.answer(answer.key, answer.bytes) {
                    self.close(answer.key);
                }
            }
        }
    }

    /// Enforces the per-connection deadlines.
    fn expire(&mut self, now: Instant) {
        let due: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(key, _)| key)
            .collect();
        for key in due {
            let conn = &mut self.conns[key];
            let limit = self.request_timeout.as_millis();
            // Best effort, one non-blocking write: nothing more is owed a late request.
            let late = match conn.phase {
                Phase::Reading { .. } => Some(error_response(
                    408,
                    &format!("request not received within {limit} ms (status.request_timeout_ms)"),
                )),
                Phase::Working => Some(error_response(
                    503,
                    &format!(
                        "no answer within {limit} ms (status.request_timeout_ms); retry shortly"
                    ),
                )),
                Phase::Writing { .. } | Phase::Lingering => None,
            };
            if let Some(response) = late {
                let _ = conn
                    .stream
                    .write(&response.to_bytes(SystemTime::now(), false));
            }
            self.close(key);
        }
    }

    fn close(&mut self, key: usize) {
        if self.conns.contains(key) {
            let mut conn = self.conns.remove(key);
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }
}

/// Writes what is pending; once all is out, shuts our side and lingers.
fn write_out(conn: &mut Conn) -> Step {
    let Phase::Writing { out, at } = &mut conn.phase else {
        return Step::Keep;
    };
    while *at < out.len() {
        match conn.stream.write(&out[*at..]) {
            Ok(0) => return Step::Close,
            Ok(n) => *at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Step::Close,
        }
    }
    // Closing with unread request bytes would send a RST that can destroy the
    // answer in flight; shut down writing and let the client close first.
    if conn.stream.shutdown(Shutdown::Write).is_err() {
        return Step::Close;
    }
    conn.phase = Phase::Lingering;
    conn.deadline = conn.deadline.min(Instant::now() + LINGER);
    drain_until_eof(conn)
}

/// Reads and discards until the client closes.
fn drain_until_eof(conn: &mut Conn) -> Step {
    let mut sink = [0u8; 1024];
    loop {
        match conn.stream.read(&mut sink) {
            Ok(0) => return Step::Close,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Step::Close,
        }
    }
}

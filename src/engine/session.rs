//! Client sessions: small state machines that say whether to keep or close.
//!
//! The slab holds a [`Session`] enum so that later kinds (a proxy pair with
//! two sockets, an agent) fit beside the echo session without a rewrite.

use std::io::{self, Read, Write};

use mio::net::TcpStream;

use super::backlog::Backlog;
use super::idle::IdleLink;
use super::stats::LocalStats;

/// Most reads one session gets per turn before the loop serves the others: a peer that
/// sends as fast as warden echoes never runs its socket dry, and without a limit it would
/// hold the loop for as long as it keeps sending.
pub const READS_PER_TURN: u32 = 16;

/// What a session handler wants done with the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it open.
    Keep,
    /// Keep it open, and give it another turn once the other ready sockets had theirs:
    /// it used its [`READS_PER_TURN`] with data still waiting, and no new readiness
    /// event comes for data that already waits.
    ReadAgain,
    /// Close it, for this reason.
    Close(CloseReason),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed and everything owed was flushed.
    PeerClosed,
    /// A read or write failed (reset, broken pipe).
    IoError,
    /// `server.idle_timeout_s` passed without traffic.
    TimedOut,
    /// The drain deadline passed.
    DrainDeadline,
}

/// Per-event inputs every handler needs, borrowed from the loop.
pub struct IoContext<'a> {
    /// The loop's one shared read buffer.
    pub buf: &'a mut [u8],
    /// Cap on bytes owed to one slow peer before reading from it stops.
    pub max_pending: usize,
    /// The loop's private counters.
    pub stats: &'a mut LocalStats,
}

/// What a readiness event reported for one socket.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    /// Data (or an error, or EOF) can be read.
    pub readable: bool,
    /// The send buffer has room.
    pub writable: bool,
    /// The peer shut its write side (EPOLLRDHUP/EPOLLHUP).
    pub read_closed: bool,
}

/// One slab entry.
#[derive(Debug)]
pub enum Session {
    /// Bytes in, same bytes out.
    Echo(EchoSession),
    /// Closed during the current poll batch; the key is freed after the batch
    /// so a connection accepted meanwhile cannot inherit its stale events.
    Closed,
}

impl Session {
    /// The idle-list link, for sessions that are open.
    pub fn link_mut(&mut self) -> Option<&mut IdleLink> {
        match self {
            Session::Echo(echo) => Some(&mut echo.link),
            Session::Closed => None,
        }
    }
}

/// The echo service: every byte comes back, in order, until the peer closes.
#[derive(Debug)]
pub struct EchoSession {
    stream: TcpStream,
    backlog: Option<Box<Backlog>>,
    /// Position in the idle list (owned by the session table).
    pub link: IdleLink,
    read_closed: bool,
    reading_paused: bool,
    /// The peer's FIN was reported: read on to EOF even after a short read.
    hup_reported: bool,
    /// A [`Verdict::ReadAgain`] is outstanding; cleared by [`EchoSession::take_read_again`].
    read_again: bool,
}

impl EchoSession {
    /// Wraps an accepted, registered stream.
    pub fn new(stream: TcpStream) -> Self {
        EchoSession {
            stream,
            backlog: None,
            link: IdleLink::detached(),
            read_closed: false,
            reading_paused: false,
            hup_reported: false,
            read_again: false,
        }
    }

    /// True once if this session asked for another turn ([`Verdict::ReadAgain`]); a
    /// session that has since closed, or a new one under the same key, did not.
    pub fn take_read_again(&mut self) -> bool {
        std::mem::take(&mut self.read_again)
    }

    /// The socket, for (de)registration.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Bytes owed to the peer.
    pub fn owed(&self) -> usize {
        self.backlog.as_ref().map_or(0, |b| b.len())
    }

    /// Handles one readiness event.
    pub fn on_ready(&mut self, ready: Readiness, ctx: &mut IoContext<'_>) -> Verdict {
        if ready.writable && self.backlog.is_some() {
            if let Err(_e) = self.flush(ctx.stats) {
                return Verdict::Close(CloseReason::IoError);
            }
        }
        self.hup_reported |= ready.read_closed;
        let wants_read = ready.readable || ready.read_closed || self.reading_paused;
        let mut verdict = Verdict::Keep;
        if wants_read && !self.read_closed {
            verdict = self.pump(ctx);
            if let Verdict::Close(reason) = verdict {
                return Verdict::Close(reason);
            }
        }
        if self.read_closed && self.owed() == 0 {
            return Verdict::Close(CloseReason::PeerClosed);
        }
        if verdict == Verdict::ReadAgain {
            // Asked once: a session already waiting for its turn gets only that one.
            if std::mem::replace(&mut self.read_again, true) {
                return Verdict::Keep;
            }
        }
        verdict
    }

    /// Reads and echoes until the socket is drained, the peer closes, the backlog
    /// reaches the cap (backpressure: reading resumes after a flush), or the turn's
    /// [`READS_PER_TURN`] are used ([`Verdict::ReadAgain`]).
    fn pump(&mut self, ctx: &mut IoContext<'_>) -> Verdict {
        let mut reads = 0;
        loop {
            if reads == READS_PER_TURN {
                return Verdict::ReadAgain;
            }
            reads += 1;
            let owed = self.owed();
            if owed >= ctx.max_pending {
                // Remembered, so the flush that makes room resumes reading even
                // though no new readable edge will come for what already waits.
                // Counted once per pause, not once per event while paused.
                if !self.reading_paused {
                    self.reading_paused = true;
                    ctx.stats.backpressure_pauses += 1;
                }
                return Verdict::Keep;
            }
            self.reading_paused = false;
            // Never read more than could be owed: the cap holds even when the
            // read buffer is larger than it.
            let room = ctx.buf.len().min(ctx.max_pending - owed);
            match self.stream.read(&mut ctx.buf[..room]) {
                Ok(0) => {
                    self.read_closed = true;
                    return Verdict::Keep;
                }
                Ok(n) => {
                    ctx.stats.bytes_in += n as u64;
                    if self.send(n, ctx).is_err() {
                        return Verdict::Close(CloseReason::IoError);
                    }
                    // A short read on a TCP socket means its receive queue was
                    // empty at that moment, and under edge-triggered epoll any
                    // later arrival raises a new event; so the extra read that
                    // would only return EAGAIN is skipped. When the peer's FIN
                    // was already reported, keep reading to reach EOF.
                    if n < room && !self.hup_reported {
                        return Verdict::Keep;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Verdict::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Verdict::Close(CloseReason::IoError),
            }
        }
    }

    /// Echoes `ctx.buf[..len]`: straight to the socket when nothing is owed,
    /// otherwise behind the backlog to keep the order.
    fn send(&mut self, len: usize, ctx: &mut IoContext<'_>) -> io::Result<()> {
        let bytes = &ctx.buf[..len];
        if let Some(backlog) = self.backlog.as_mut() {
            backlog.push(bytes);
            return Ok(());
        }
        let mut sent = 0;
        while sent < bytes.len() {
            match self.stream.write(&bytes[sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    sent += n;
                    ctx.stats.bytes_out += n as u64;
                    if sent < bytes.len() {
                        // A partial write means the send buffer is full; the
                        // next write would only say EAGAIN.
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if sent < bytes.len() {
            let mut backlog = Box::<Backlog>::default();
            backlog.push(&bytes[sent..]);
            self.backlog = Some(backlog);
        }
        Ok(())
    }

    /// Writes what is owed; frees the backlog once it is empty.
    fn flush(&mut self, stats: &mut LocalStats) -> io::Result<()> {
        if let Some(backlog) = self.backlog.as_mut() {
            let written = backlog.flush_into(&mut self.stream)?;
            stats.bytes_out += written as u64;
            if backlog.is_empty() {
                self.backlog = None;
            }
        }
        Ok(())
    }
}

//! Client sessions: small state machines that say whether to keep or close.
//!
//! The slab holds a [`Session`] enum so that later kinds (a proxy pair with
//! two sockets, an agent) fit beside the echo session without a rewrite.

use std::io::{self, Read, Write};

use mio::net::TcpStream;

use super::backlog::Backlog;
use super::idle::IdleLink;
use super::stats::LocalStats;

/// What a session handler wants done with the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it open.
    Keep,
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
        }
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
        let wants_read = ready.readable || ready.read_closed || self.reading_paused;
        if wants_read && !self.read_closed {
            if let Verdict::Close(reason) = self.pump(ready.read_closed, ctx) {
                return Verdict::Close(reason);
            }
        }
        if self.read_closed && self.owed() == 0 {
            return Verdict::Close(CloseReason::PeerClosed);
        }
        Verdict::Keep
    }

    /// Reads and echoes until the socket is drained, the peer closes, or the
    /// backlog reaches the cap (backpressure: reading resumes after a flush).
    fn pump(&mut self, hup_seen: bool, ctx: &mut IoContext<'_>) -> Verdict {
        loop {
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
                    if n < room && !hup_seen {
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

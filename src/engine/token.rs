//! The kinds of `mio::Token` the event loop hands out.
//!
//! Every readiness event carries a token; its value alone tells which kind of
//! source fired. Low values name fixed sources, a block names listeners, and
//! everything from [`SESSION_BASE`] up is a slab key offset into the session
//! table.

use mio::Token;

/// Wakes the loop when another thread sent a command.
pub const WAKER: Token = Token(0);
/// Fires when SIGTERM, SIGINT or SIGHUP is pending.
pub const SIGNALS: Token = Token(1);
/// Fires every heartbeat interval (a timerfd).
pub const HEARTBEAT: Token = Token(2);
/// First listener token; listener `i` is `LISTENER_BASE + i`.
pub const LISTENER_BASE: usize = 16;
/// Most listening sockets one loop holds: as many as `server.listen` may name.
pub const MAX_LISTENERS: usize = crate::config::limits::MAX_LISTEN_ADDRESSES;
/// First session token; session with slab key `k` is `SESSION_BASE + k`.
pub const SESSION_BASE: usize = LISTENER_BASE + MAX_LISTENERS;

/// What a token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The cross-thread waker.
    Waker,
    /// The signal pipe.
    Signals,
    /// The heartbeat timer.
    Heartbeat,
    /// A listening socket, by index.
    Listener(usize),
    /// A client session, by slab key.
    Session(usize),
    /// A value no source was registered with.
    Unknown(usize),
}

/// Decodes a token into its kind.
#[inline]
pub fn classify(token: Token) -> TokenKind {
    match token.0 {
        0 => TokenKind::Waker,
        1 => TokenKind::Signals,
        2 => TokenKind::Heartbeat,
        n if (LISTENER_BASE..SESSION_BASE).contains(&n) => TokenKind::Listener(n - LISTENER_BASE),
        n if n >= SESSION_BASE => TokenKind::Session(n - SESSION_BASE),
        n => TokenKind::Unknown(n),
    }
}

/// The token of listener `index`.
pub fn listener(index: usize) -> Token {
    debug_assert!(index < MAX_LISTENERS);
    Token(LISTENER_BASE + index)
}

/// The token of the session with slab key `key`.
#[inline]
pub fn session(key: usize) -> Token {
    Token(SESSION_BASE + key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        assert_eq!(classify(WAKER), TokenKind::Waker);
        assert_eq!(classify(SIGNALS), TokenKind::Signals);
        assert_eq!(classify(HEARTBEAT), TokenKind::Heartbeat);
        assert_eq!(classify(listener(0)), TokenKind::Listener(0));
        assert_eq!(classify(listener(63)), TokenKind::Listener(63));
        assert_eq!(classify(session(0)), TokenKind::Session(0));
        assert_eq!(classify(session(123_456)), TokenKind::Session(123_456));
        assert_eq!(classify(Token(5)), TokenKind::Unknown(5));
    }
}

//! The session table: the slab, the idle list and deferred key reuse.
//!
//! A key closed during a poll batch stays occupied by a tombstone until the
//! batch ends, so events still queued in that batch for the old socket can
//! never reach a connection accepted in the same batch.

use mio::net::TcpStream;
use slab::Slab;

use super::idle::{IdleLink, IdleList, LinkStore};
use super::session::{EchoSession, Session};

struct Entries(Slab<Session>);

impl LinkStore for Entries {
    fn link_mut(&mut self, key: u32) -> &mut IdleLink {
        self.0[key as usize]
            .link_mut()
            .expect("idle list holds only open sessions")
    }
}

/// Every open session, with the bookkeeping around it.
pub struct SessionTable {
    entries: Entries,
    idle: IdleList,
    tombstones: Vec<u32>,
    open: usize,
}

impl SessionTable {
    /// A table with room for `capacity` sessions before it grows.
    pub fn with_capacity(capacity: usize) -> Self {
        SessionTable {
            entries: Entries(Slab::with_capacity(capacity)),
            idle: IdleList::default(),
            tombstones: Vec::with_capacity(1024),
            open: 0,
        }
    }

    /// Open sessions (tombstones excluded).
    pub fn open(&self) -> usize {
        self.open
    }

    /// The key the next insert will use.
    pub fn vacant_key(&self) -> usize {
        self.entries.0.vacant_key()
    }

    /// Stores a new echo session stamped at tick `now`; returns its key.
    pub fn insert_echo(&mut self, stream: TcpStream, now: u32) -> usize {
        let key = self
            .entries
            .0
            .insert(Session::Echo(EchoSession::new(stream)));
        self.idle.push_back(&mut self.entries, key as u32, now);
        self.open += 1;
        key
    }

    /// The session at `key`, if it is open.
    #[inline]
    pub fn get_mut(&mut self, key: usize) -> Option<&mut Session> {
        match self.entries.0.get_mut(key) {
            Some(Session::Closed) | None => None,
            Some(session) => Some(session),
        }
    }

    /// Records activity on `key` at tick `now`.
    #[inline]
    pub fn touch(&mut self, key: usize, now: u32) {
        self.idle.touch(&mut self.entries, key as u32, now);
    }

    /// Closes the session at `key` now (the socket is dropped) and keeps the
    /// key reserved until [`end_batch`](Self::end_batch).
    pub fn close(&mut self, key: usize) {
        let Some(entry) = self.entries.0.get_mut(key) else {
            return;
        };
        if matches!(entry, Session::Closed) {
            return;
        }
        self.idle.unlink(&mut self.entries, key as u32);
        // Dropping the stream closes the descriptor, which also removes it
        // from the epoll set.
        self.entries.0[key] = Session::Closed;
        self.tombstones.push(key as u32);
        self.open -= 1;
    }

    /// Frees the keys closed during the batch that just ended.
    pub fn end_batch(&mut self) {
        if self.tombstones.is_empty() {
            return;
        }
        for key in self.tombstones.drain(..) {
            self.entries.0.remove(key as usize);
        }
    }

    /// The session idle longest and its last-activity tick.
    pub fn idlest(&mut self) -> Option<(usize, u32)> {
        let key = self.idle.head()?;
        Some((key as usize, self.entries.link_mut(key).stamp()))
    }

    /// Keys of every open session (for the drain deadline; allocates once).
    pub fn open_keys(&self) -> Vec<usize> {
        self.entries
            .0
            .iter()
            .filter(|(_, s)| !matches!(s, Session::Closed))
            .map(|(k, _)| k)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream as StdStream};

    fn pair(listener: &TcpListener) -> (TcpStream, StdStream) {
        let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (TcpStream::from_std(server), client)
    }

    #[test]
    fn a_key_closed_in_a_batch_is_not_reused_until_the_batch_ends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut table = SessionTable::with_capacity(4);
        let (a, _ca) = pair(&listener);
        let key_a = table.insert_echo(a, 0);
        table.close(key_a);
        assert!(
            table.get_mut(key_a).is_none(),
            "a closed session gets no events"
        );
        let (b, _cb) = pair(&listener);
        let key_b = table.insert_echo(b, 0);
        assert_ne!(
            key_a, key_b,
            "same-batch accept must not take the closed key"
        );
        assert!(table.get_mut(key_a).is_none());
        table.end_batch();
        assert_eq!(table.vacant_key(), key_a, "the key is free after the batch");
        assert_eq!(table.open(), 1);
    }

    #[test]
    fn idlest_follows_activity() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut table = SessionTable::with_capacity(4);
        let mut clients = Vec::new();
        let mut keys = Vec::new();
        for t in 0..3 {
            let (s, c) = pair(&listener);
            clients.push(c);
            keys.push(table.insert_echo(s, t));
        }
        assert_eq!(table.idlest(), Some((keys[0], 0)));
        table.touch(keys[0], 7);
        assert_eq!(table.idlest(), Some((keys[1], 1)));
        table.close(keys[1]);
        assert_eq!(table.idlest(), Some((keys[2], 2)));
        assert_eq!(table.open_keys().len(), 2);
    }
}

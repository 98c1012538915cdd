//! The write backlog a connection owns only while its peer is not reading.
//!
//! An echo normally goes straight back from the loop's shared read buffer;
//! only the bytes the kernel would not take are copied here. The backlog is
//! freed as soon as it drains, so an idle connection owns none.

use std::io::{self, Write};

/// Bytes owed to a slow peer, oldest first.
#[derive(Debug, Default)]
pub struct Backlog {
    buf: Vec<u8>,
    start: usize,
}

impl Backlog {
    /// Bytes still owed.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// True when nothing is owed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends bytes the peer has not taken yet.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            // Reclaim the consumed front before growing.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Writes as much as the socket takes; returns the bytes written.
    /// Stops at `WouldBlock` (reported as `Ok`); other errors are returned.
    pub fn flush_into<W: Write>(&mut self, out: &mut W) -> io::Result<usize> {
        let mut total = 0;
        while self.start < self.buf.len() {
            match out.write(&self.buf[self.start..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.start += n;
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `room` bytes, then would block.
    struct Trickle {
        room: usize,
        got: Vec<u8>,
    }
    impl Write for Trickle {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(self.room);
            self.room -= n;
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn keeps_order_across_partial_flushes() {
        let mut backlog = Backlog::default();
        let mut out = Trickle {
            room: 3,
            got: Vec::new(),
        };
        backlog.push(b"hello ");
        assert_eq!(backlog.flush_into(&mut out).unwrap(), 3);
        backlog.push(b"world");
        assert_eq!(backlog.len(), 8);
        out.room = 100;
        assert_eq!(backlog.flush_into(&mut out).unwrap(), 8);
        assert!(backlog.is_empty());
        assert_eq!(out.got, b"hello world");
    }

    #[test]
    fn write_zero_is_an_error() {
        struct Zero;
        impl Write for Zero {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut backlog = Backlog::default();
        backlog.push(b"x");
        assert!(backlog.flush_into(&mut Zero).is_err());
    }
}

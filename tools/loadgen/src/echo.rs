//! One message travelling to an echo server and back, on a nonblocking socket.
//!
//! An [`EchoExchange`] owns the message buffer of one connection (allocated
//! once, reused for every message) and tracks how much has been written and
//! how much of the echo has come back and been verified. Reads ask for no
//! more than is outstanding, so bytes beyond the echo are left in the socket
//! and caught as a mismatch on the next message, and the common case costs
//! exactly one write and one read per round trip.

use mio::net::TcpStream;

use crate::failure::Failure;
use crate::net::{read_some, write_some, ReadOutcome};
use crate::pattern::{fill_message, verify_echo};

/// Where an exchange stands after driving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoProgress {
    /// Waiting for the socket (more to write or more echo to read).
    Pending,
    /// The whole message came back intact.
    Complete,
}

/// The message buffer and progress of one connection's current message.
pub struct EchoExchange {
    message: Box<[u8]>,
    sent: usize,
    received: usize,
}

impl EchoExchange {
    /// An exchange of `size`-byte messages.
    pub fn new(size: usize) -> EchoExchange {
        EchoExchange {
            message: vec![0; size].into_boxed_slice(),
            sent: 0,
            received: 0,
        }
    }

    /// Message size in bytes.
    pub fn size(&self) -> usize {
        self.message.len()
    }

    /// Loads message `sequence` of connection `connection_id` and resets progress.
    pub fn prepare(&mut self, connection_id: u64, sequence: u64) {
        fill_message(&mut self.message, connection_id, sequence);
        self.sent = 0;
        self.received = 0;
    }

    /// Writes a freshly prepared message. Does not look for the echo when the
    /// whole message went out: it cannot be back yet, and the readable event
    /// will say when it is.
    pub fn send(
        &mut self,
        stream: &TcpStream,
        scratch: &mut [u8],
    ) -> Result<EchoProgress, Failure> {
        match write_some(stream, &self.message) {
            Ok(Some(count)) if count == self.message.len() => {
                self.sent = count;
                Ok(EchoProgress::Pending)
            }
            Ok(Some(count)) => {
                self.sent = count;
                self.drive(stream, scratch)
            }
            Ok(None) => Ok(EchoProgress::Pending),
            Err(error) => Err(Failure::io(error, false)),
        }
    }

    /// Makes all the progress the socket allows: writes the rest of the
    /// message and reads and verifies the echo, until both would block.
    pub fn drive(
        &mut self,
        stream: &TcpStream,
        scratch: &mut [u8],
    ) -> Result<EchoProgress, Failure> {
        loop {
            let mut wrote = false;
            if self.sent < self.message.len() {
                match write_some(stream, &self.message[self.sent..]) {
                    Ok(Some(count)) => {
                        self.sent += count;
                        wrote = true;
                    }
                    Ok(None) => {}
                    Err(error) => return Err(Failure::io(error, false)),
                }
            }
            let read = self.read_echo(stream, scratch)?;
            if self.received == self.message.len() {
                return Ok(EchoProgress::Complete);
            }
            // Everything written and the echo read until WouldBlock: the next
            // readable edge will bring the rest.
            if self.sent == self.message.len() || !(wrote || read) {
                return Ok(EchoProgress::Pending);
            }
        }
    }

    /// Reads and verifies outstanding echo bytes; true if any arrived. Each read
    /// takes what the socket holds, up to the scratch buffer, so a byte beyond the
    /// outstanding echo that has already arrived is caught in the same `recv` (a
    /// server can only echo what was sent, so any such byte was never sent).
    fn read_echo(&mut self, stream: &TcpStream, scratch: &mut [u8]) -> Result<bool, Failure> {
        let mut any = false;
        while self.received < self.sent {
            match read_some(stream, scratch) {
                Ok(ReadOutcome::Data(count)) => {
                    let outstanding = self.sent - self.received;
                    let echoed = count.min(outstanding);
                    verify_echo(&self.message, self.received, &scratch[..echoed])
                        .map_err(Failure::mismatch)?;
                    if count > outstanding {
                        return Err(Failure::unexpected_bytes(count - outstanding));
                    }
                    self.received += count;
                    any = true;
                }
                Ok(ReadOutcome::WouldBlock) => break,
                Ok(ReadOutcome::Closed) => return Err(Failure::closed_early()),
                Err(error) => return Err(Failure::io(error, false)),
            }
        }
        Ok(any)
    }
}

/// Checks a connection with nothing outstanding after a readiness event: any
/// byte is one that was never sent, end of stream means the server hung up.
pub fn check_quiet(stream: &TcpStream, scratch: &mut [u8]) -> Result<(), Failure> {
    match read_some(stream, scratch) {
        Ok(ReadOutcome::WouldBlock) => Ok(()),
        Ok(ReadOutcome::Data(count)) => Err(Failure::unexpected_bytes(count)),
        Ok(ReadOutcome::Closed) => Err(Failure::closed_early()),
        Err(error) => Err(Failure::io(error, false)),
    }
}

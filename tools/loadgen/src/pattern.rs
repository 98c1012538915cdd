//! Message contents and echo verification.
//!
//! Every message carries bytes derived from (connection id, message sequence
//! number): byte 0 is a per-connection counter, so two consecutive messages on
//! one connection always differ, and the rest is a keyed pseudo-random stream,
//! so a byte echoed on the wrong connection, a stale or reordered message, or
//! a flipped bit all show up as a mismatch. Generation and comparison work in
//! place on caller-owned buffers: nothing here allocates.

use std::fmt;

/// Where an echo first differed from what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// Offset of the first wrong byte within the message.
    pub offset: usize,
    /// The byte that was sent there.
    pub expected: u8,
    /// The byte that came back.
    pub received: u8,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "echo byte {} is {:#04x}, sent {:#04x}",
            self.offset, self.received, self.expected
        )
    }
}

/// Fills `message` with the bytes message number `sequence` of connection
/// `connection_id` carries.
pub fn fill_message(message: &mut [u8], connection_id: u64, sequence: u64) {
    let mut state = connection_id
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(sequence.wrapping_mul(0xD1B5_4A32_D192_ED03))
        ^ 0x5EED_F00D_C0DE_0001;
    for chunk in message.chunks_mut(8) {
        let word = splitmix64(&mut state).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    if let Some(first) = message.first_mut() {
        *first = (sequence as u8).wrapping_add(connection_id as u8);
    }
}

/// Checks `echoed`, which came back at `offset` within `sent`, against the
/// bytes sent there. `echoed` must not reach past the end of `sent`.
pub fn verify_echo(sent: &[u8], offset: usize, echoed: &[u8]) -> Result<(), Mismatch> {
    let expected = &sent[offset..offset + echoed.len()];
    if expected == echoed {
        return Ok(());
    }
    let position = expected
        .iter()
        .zip(echoed)
        .position(|(want, got)| want != got)
        .unwrap_or(0);
    Err(Mismatch {
        offset: offset + position,
        expected: expected[position],
        received: echoed[position],
    })
}

/// One step of the splitmix64 generator: fast, and good enough to make
/// accidental matches of misplaced bytes vanishingly rare.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize, connection: u64, sequence: u64) -> Vec<u8> {
        let mut buffer = vec![0; len];
        fill_message(&mut buffer, connection, sequence);
        buffer
    }

    #[test]
    fn intact_echo_verifies_whole_and_in_pieces() {
        let sent = message(100, 7, 3);
        assert_eq!(verify_echo(&sent, 0, &sent), Ok(()));
        assert_eq!(verify_echo(&sent, 0, &sent[..10]), Ok(()));
        assert_eq!(verify_echo(&sent, 10, &sent[10..55]), Ok(()));
        assert_eq!(verify_echo(&sent, 55, &sent[55..]), Ok(()));
    }

    #[test]
    fn flipped_byte_is_reported_with_its_offset() {
        let sent = message(64, 1, 1);
        let mut echoed = sent.clone();
        echoed[37] ^= 0x01;
        let mismatch = verify_echo(&sent, 0, &echoed).unwrap_err();
        assert_eq!(mismatch.offset, 37);
        assert_eq!(mismatch.expected, sent[37]);
        assert_eq!(mismatch.received, sent[37] ^ 0x01);

        let tail = verify_echo(&sent, 30, &echoed[30..]).unwrap_err();
        assert_eq!(tail.offset, 37);
    }

    #[test]
    fn previous_message_is_not_accepted_as_the_echo() {
        for len in [1usize, 2, 16, 64, 100] {
            for sequence in 1..300u64 {
                let current = message(len, 42, sequence);
                let stale = message(len, 42, sequence - 1);
                assert!(
                    verify_echo(&current, 0, &stale).is_err(),
                    "len {len} seq {sequence}"
                );
            }
        }
    }

    #[test]
    fn other_connections_bytes_are_not_accepted() {
        let mine = message(64, 5, 9);
        let theirs = message(64, 6, 9);
        assert!(verify_echo(&mine, 0, &theirs).is_err());
    }

    #[test]
    fn pattern_is_deterministic() {
        assert_eq!(message(33, 11, 22), message(33, 11, 22));
    }
}

//! Closing and accepting in one poll batch never crosses sessions: many
//! clients open, exchange a unique message and close in parallel bursts; each
//! must get exactly its own bytes back.

use std::io::{Read, Write};

use crate::util::{config_with, echo, Warden};

#[test]
fn churn_never_delivers_another_sessions_bytes() {
    let w = Warden::start(&config_with("", ""));
    let addr = w.addr();
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            std::thread::spawn(move || {
                for round in 0..300u32 {
                    let mut s = echo::connect(addr);
                    let msg = format!(
                        "thread {t} round {round} {}",
                        "x".repeat((round % 50) as usize)
                    );
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut got = vec![0u8; msg.len()];
                    s.read_exact(&mut got).unwrap();
                    assert_eq!(got, msg.as_bytes());
                    // Alternate close styles: reset-ish drop and half-close.
                    if round % 2 == 0 {
                        s.shutdown(std::net::Shutdown::Write).unwrap();
                        let mut rest = Vec::new();
                        s.read_to_end(&mut rest).unwrap();
                        assert!(rest.is_empty(), "stray bytes {rest:?}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

//! A backlog of connections that reset before warden accepts them must not fill
//! `server.max_connections` again: warden accepts a bounded number per loop pass and
//! closes the dead ones before it accepts more.

use std::net::{SocketAddr, TcpStream};

use crate::status::wait_status;
use crate::util::{config_with, echo, Warden};

/// The cap; resuming happens below 90 % of it, so after the resume there is room for
/// `CAP / 10` more, more than warden accepts in one pass (64).
const CAP: usize = 1000;
/// Connections queued in the listen backlog that reset before warden accepts them.
const RESET_IN_BACKLOG: usize = 2000;

/// Deterministic, no timing involved. Warden is paused at the cap with `CAP` live
/// connections; `RESET_IN_BACKLOG` connections then complete their handshake in the
/// kernel's backlog and reset at once (SO_LINGER 0, then close: Linux still hands
/// them to `accept`). Closing `CAP / 10 + 1` live ones makes warden resume with room
/// for `CAP / 10 + 1`. Accepting until `WouldBlock` (the old loop) takes that room
/// with dead connections in one go and reaches the cap again, over and over (20
/// times in one run). Accepting at most 64 per pass, after the pass's close
/// events (every dead one accepted is reported at its registration, so in the next
/// poll), never holds more than 64 dead ones: the cap is reached only the first time.
#[test]
fn a_backlog_of_reset_connections_does_not_refill_the_cap() {
    let w = Warden::start(&config_with(
        &format!("max_connections = {CAP}\nat_capacity = \"pause\"\nbacklog = 4096"),
        "",
    ));
    let status = crate::status::status_addr(&w);
    let mut live: Vec<TcpStream> = (0..CAP).map(|_| echo::connect(w.addr())).collect();
    wait_status(status, "the cap reached once", |d| {
        let c = &d["connections"];
        c["active"] == CAP as u64 && c["capacity_pauses"] == 1
    });

    for _ in 0..RESET_IN_BACKLOG {
        reset_at_once(w.addr());
    }
    // Down to 899 open: below 90 %, warden accepts again.
    live.truncate(CAP - CAP / 10 - 1);
    let settled = wait_status(status, "every reset connection accepted and closed", |d| {
        let c = &d["connections"];
        c["accepted"] == (CAP + RESET_IN_BACKLOG) as u64 && c["active"] == live.len() as u64
    })["connections"]
        .clone();
    assert_eq!(
        settled["capacity_pauses"],
        1,
        "dead connections filled the cap again: {settled}; log:\n{}",
        w.log().join("\n")
    );
    // The live ones were never cut, and a newcomer is served.
    for (i, s) in live.iter_mut().enumerate() {
        echo::roundtrip(s, format!("still here {i}").as_bytes());
    }
    let mut newcomer = echo::connect(w.addr());
    echo::roundtrip(&mut newcomer, b"served");
}

/// Connects (the kernel completes the handshake into the backlog) and resets.
fn reset_at_once(addr: SocketAddr) {
    let stream = TcpStream::connect(addr).expect("the backlog has room");
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open (owned by `stream`) and `linger` is a valid
    // `struct linger` whose size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&stream),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
    drop(stream); // with a zero linger: RST
}

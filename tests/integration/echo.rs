//! Echo correctness: small messages, a long stream to a slow reader with
//! bounded server memory, half-close.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use crate::util::{config_with, echo, proc, Warden};

#[test]
fn small_messages_come_back_in_order() {
    let w = Warden::start(&config_with("", ""));
    let mut s = echo::connect(w.addr());
    for size in [1usize, 2, 63, 64, 100, 1000, 4096, 65_535, 65_536, 200_000] {
        let msg: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
        echo::roundtrip(&mut s, &msg);
    }
    // Several writes before reading: order is kept across them.
    s.write_all(b"abc").unwrap();
    s.write_all(b"def").unwrap();
    let mut got = [0u8; 6];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"abcdef");
}

#[test]
fn half_close_flushes_everything_then_closes() {
    let w = Warden::start(&config_with("", ""));
    let mut s = echo::connect(w.addr());
    let msg: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut writer = s.try_clone().unwrap();
    let sent = msg.clone();
    let t = std::thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("read until the server closes");
    t.join().unwrap();
    assert_eq!(got.len(), msg.len());
    assert!(got == msg, "echoed bytes differ");
}

#[test]
fn a_slow_reader_gets_16_mib_back_while_server_memory_stays_bounded() {
    let w = Warden::start(&config_with("max_pending_bytes = 65536", ""));
    let pid = w.pid();
    let baseline = proc::rss_bytes(pid);
    let s = echo::connect(w.addr());
    // Small kernel buffers on the client so the server, not the kernel, is
    // where a missing backpressure would pile bytes up.
    socket2::SockRef::from(&s)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    const TOTAL: usize = 16 << 20;
    let mut writer = s.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        let chunk: Vec<u8> = (0..65_536u32).map(|i| (i % 253) as u8).collect();
        let mut sent = 0;
        while sent < TOTAL {
            writer.write_all(&chunk).unwrap();
            sent += chunk.len();
        }
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut reader = s;
    let mut buf = vec![0u8; 16 * 1024];
    let mut received = 0usize;
    let mut peak = baseline;
    let started = Instant::now();
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (i, b) in buf[..n].iter().enumerate() {
            assert_eq!(
                *b,
                ((received + i) % 65_536 % 253) as u8,
                "byte {} corrupted",
                received + i
            );
        }
        received += n;
        if received % (1 << 20) < n {
            // Be slow: the server must hold off reading, not buffer.
            std::thread::sleep(Duration::from_millis(20));
            peak = peak.max(proc::rss_bytes(pid));
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stream stalled at {received}"
        );
    }
    t.join().unwrap();
    assert_eq!(received, TOTAL);
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < 4 << 20,
        "server RSS grew by {growth} bytes during a 16 MiB stream (baseline {baseline})"
    );
}

#[test]
fn max_pending_bytes_caps_what_a_peer_that_never_reads_is_owed() {
    // A read buffer far larger than the cap: the cap must still hold.
    let w = Warden::start(&config_with(
        "max_pending_bytes = 1024\nread_buffer_bytes = 1048576",
        "",
    ));
    // The receive buffer is fixed before connecting, so the window this peer
    // advertises is what it can hold. Shrunk after connecting, it made the
    // kernel drop warden's segments and both sides stall in TCP back-off
    // before warden's send buffer ever filled.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(256 << 10).unwrap();
    sock.connect_timeout(&w.addr().into(), Duration::from_secs(5))
        .unwrap();
    let mut s: std::net::TcpStream = sock.into();
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let chunk = vec![7u8; 1 << 20];
    // Bounded: 16 MiB at most; a write blocks (and times out) once both
    // kernels' buffers and warden's 1 KiB are full.
    let mut written = 0usize;
    while written < 16 << 20 {
        match s.write(&chunk) {
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    let traffic = settled_traffic(&w, |t| t["backpressure_pauses"].as_u64() >= Some(1));
    let owed = traffic["bytes_in"].as_u64().unwrap() - traffic["bytes_out"].as_u64().unwrap();
    assert!(
        owed <= 1024,
        "warden holds {owed} bytes for the peer: {traffic}"
    );
    // Reading resumes once the peer reads: every byte comes back.
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut received = 0usize;
    while received < written {
        let n = s
            .read(&mut buf)
            .expect("the echo stalled after the peer began reading");
        assert!(n > 0, "warden closed after {received} of {written} bytes");
        assert!(buf[..n].iter().all(|&b| b == 7), "corrupted echo");
        received += n;
    }
}

/// The status page's traffic counters once `ready` holds and two readings in
/// a row agree (they are published a few times a second); bounded at 20 s.
fn settled_traffic(w: &Warden, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let traffic =
        || crate::status::get(crate::status::status_addr(w), "/status").json()["traffic"].clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = traffic();
    loop {
        std::thread::sleep(Duration::from_millis(600));
        let now = traffic();
        if ready(&now) && now == last {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "traffic never settled as expected: {now}"
        );
        last = now;
    }
}

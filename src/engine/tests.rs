//! In-process tests of the loop: the admission gate driven from another
//! thread through the command channel, as the thermal controller drives it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::*;

struct NoHooks;
impl LoopHooks for NoHooks {
    fn reload(&mut self) -> Option<EngineSettings> {
        None
    }
    fn heartbeat(&mut self, _: &LoopShared, _: Instant) {}
}

fn settings() -> EngineSettings {
    EngineSettings {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        backlog: 128,
        max_connections: 1000,
        at_capacity: ShedMode::Pause,
        max_pending_bytes: 65536,
        read_buffer_bytes: 65536,
        idle_timeout: None,
        drain_timeout: Duration::from_secs(1),
    }
}

fn roundtrip(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    s.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got)?;
    assert_eq!(got, msg);
    Ok(())
}

fn wait_gate(shared: &LoopShared, want: GateState) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.gate() != want {
        assert!(
            Instant::now() < deadline,
            "gate stuck at {:?}, wanted {want:?}",
            shared.gate()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn admission_commands_shed_new_connections_only() {
    let listener = listener::bind("127.0.0.1:0".parse().unwrap(), 128).unwrap();
    let addr = listener.addr;
    let (sender, receiver) = control::channel();
    let mut event_loop = EventLoop::new(settings(), vec![listener], receiver).unwrap();
    let control = ControlHandle::new(sender, event_loop.waker());
    let shared = event_loop.shared();
    let thread = std::thread::spawn(move || event_loop.run(&mut NoHooks).unwrap());

    let mut established = TcpStream::connect(addr).unwrap();
    established
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    roundtrip(&mut established, b"open").unwrap();

    control
        .send(Command::SetAdmission(Admission::Shed {
            mode: ShedMode::Reject,
        }))
        .unwrap();
    wait_gate(&shared, GateState::ShedReject);
    let mut newcomer = TcpStream::connect(addr).unwrap();
    newcomer
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        newcomer.read(&mut byte).unwrap_or(0),
        0,
        "rejected: closed at once"
    );
    roundtrip(
        &mut established,
        b"established connections keep being served",
    )
    .unwrap();

    control
        .send(Command::SetAdmission(Admission::Shed {
            mode: ShedMode::Pause,
        }))
        .unwrap();
    wait_gate(&shared, GateState::ShedPause);
    let mut waiting = TcpStream::connect(addr).unwrap();
    waiting.write_all(b"queued").unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        waiting.read(&mut byte).is_err(),
        "paused: left in the backlog"
    );
    roundtrip(&mut established, b"still served").unwrap();

    control
        .send(Command::SetAdmission(Admission::Open))
        .unwrap();
    wait_gate(&shared, GateState::Open);
    waiting
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = [0u8; 6];
    waiting.read_exact(&mut got).unwrap();
    assert_eq!(
        &got, b"queued",
        "the backlog is served once admission opens"
    );

    // Counters are published every few milliseconds, not per message.
    let deadline = Instant::now() + Duration::from_secs(2);
    while shared.stats.load().rejected_thermal != 1 {
        assert!(
            Instant::now() < deadline,
            "rejected_thermal = {}",
            shared.stats.load().rejected_thermal
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop((established, waiting, newcomer));
    control.send(Command::Drain).unwrap();
    let reason = thread.join().unwrap();
    assert!(matches!(
        reason,
        ExitReason::Drained | ExitReason::DrainDeadline
    ));
}

#[test]
fn an_idle_session_costs_a_few_dozen_bytes_in_the_slab() {
    // The slab entry is the whole user-space cost of an idle connection
    // (the write backlog exists only while a peer is slow); the 256 B target
    // leaves room for the slab's doubling growth and the process baseline.
    let size = std::mem::size_of::<Session>();
    assert!(size <= 48, "Session grew to {size} bytes");
}

#[test]
fn the_gate_is_never_seen_before_the_counts_that_closed_it() {
    // The reader spins on the gate, so it looks the moment the gate flips: if the
    // counters were published later (on the loop's next periodic publish), it would
    // see `at_capacity` beside fewer than `max` open connections.
    const MAX: usize = 8;
    let listener = listener::bind("127.0.0.1:0".parse().unwrap(), 128).unwrap();
    let addr = listener.addr;
    let (sender, receiver) = control::channel();
    let capped = EngineSettings {
        max_connections: MAX,
        ..settings()
    };
    let mut event_loop = EventLoop::new(capped, vec![listener], receiver).unwrap();
    let control = ControlHandle::new(sender, event_loop.waker());
    let shared = event_loop.shared();
    let thread = std::thread::spawn(move || event_loop.run(&mut NoHooks).unwrap());

    for round in 0..5 {
        let mut held: Vec<TcpStream> = (0..MAX - 1)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        held.push(TcpStream::connect(addr).unwrap());
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.gate() != GateState::AtCapacityPause {
            assert!(
                Instant::now() < deadline,
                "round {round}: never at capacity"
            );
            std::hint::spin_loop();
        }
        let active = shared.stats.load().active;
        assert_eq!(
            active, MAX as u64,
            "round {round}: at capacity beside active = {active}"
        );
        drop(held);
        // Wait for the closes to be counted before the next round opens again.
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.stats.load().active != 0 || shared.gate() != GateState::Open {
            assert!(Instant::now() < deadline, "round {round}: closes not seen");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    control.send(Command::Drain).unwrap();
    thread.join().unwrap();
}

/// A loopback pair: the client side, and the accepted side as the loop holds it.
fn accepted_pair() -> (TcpStream, mio::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    (client, mio::net::TcpStream::from_std(server))
}

#[test]
fn a_session_with_more_waiting_than_one_turn_reads_asks_for_another_turn() {
    const BUF: usize = 1024;
    let (mut client, server) = accepted_pair();
    // Two and a half turns' worth.
    let turn_bytes = BUF * session::READS_PER_TURN as usize;
    let waiting = turn_bytes * 2 + turn_bytes / 2;
    client.write_all(&vec![7u8; waiting]).unwrap();
    // Loopback delivers at once; wait until every byte is in the server's queue.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut peek = vec![0u8; waiting];
    while server.peek(&mut peek).unwrap_or(0) < waiting {
        assert!(Instant::now() < deadline, "the bytes never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut echo = session::EchoSession::new(server);
    let mut buf = vec![0u8; BUF];
    let mut stats = stats::LocalStats::default();
    let ready = Readiness {
        readable: true,
        writable: false,
        read_closed: false,
    };
    let mut turn = |echo: &mut session::EchoSession| {
        let mut ctx = IoContext {
            buf: &mut buf,
            max_pending: 1 << 20,
            stats: &mut stats,
        };
        echo.on_ready(ready, &mut ctx)
    };
    assert_eq!(turn(&mut echo), Verdict::ReadAgain);
    assert_eq!(
        turn(&mut echo),
        Verdict::Keep,
        "asked once until the loop takes it"
    );
    assert!(echo.take_read_again() && !echo.take_read_again());
    assert_eq!(turn(&mut echo), Verdict::Keep, "the rest fits in one turn");
    assert_eq!(stats.bytes_in, waiting as u64);
}

#[test]
fn a_stream_longer_than_many_turns_is_echoed_whole() {
    let listener = listener::bind("127.0.0.1:0".parse().unwrap(), 128).unwrap();
    let addr = listener.addr;
    let (sender, receiver) = control::channel();
    let small_reads = EngineSettings {
        read_buffer_bytes: 1024,
        ..settings()
    };
    let mut event_loop = EventLoop::new(small_reads, vec![listener], receiver).unwrap();
    let control = ControlHandle::new(sender, event_loop.waker());
    let thread = std::thread::spawn(move || event_loop.run(&mut NoHooks).unwrap());

    // 4 MiB through 1 KiB reads: 256 turns of 16 reads, each brought back by the queue.
    let total = 4 << 20;
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = client.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&vec![5u8; total]));
    let mut got = vec![0u8; total];
    client
        .read_exact(&mut got)
        .expect("every byte echoed, none left waiting without an event");
    sending.join().unwrap().unwrap();
    assert!(got.iter().all(|&b| b == 5));
    drop(client);
    control.send(Command::Drain).unwrap();
    thread.join().unwrap();
}

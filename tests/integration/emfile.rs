//! Descriptor exhaustion: warden started with RLIMIT_NOFILE = 64 and flooded.
//! It must not spin, must count the back-offs, and must serve again once
//! clients leave.

use std::time::Duration;

use crate::util::{config_with, counters, echo, proc, Launch, Warden};

#[test]
fn emfile_backs_off_without_spinning_and_recovers() {
    let mut w = Warden::start_with(
        &config_with("drain_timeout_s = 1", "[status]\nenabled = false"),
        Launch {
            nofile: Some(64),
            ..Launch::default()
        },
    );
    let addr = w.addr();
    // Far more clients than descriptors: the kernel backlog holds the rest.
    let mut flood: Vec<_> = (0..200).map(|_| echo::connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let cpu_before = proc::cpu_time(w.pid());
    std::thread::sleep(Duration::from_secs(3));
    let cpu = proc::cpu_time(w.pid()) - cpu_before;
    assert!(
        cpu < Duration::from_millis(300),
        "warden used {cpu:?} of CPU over 3 s of exhaustion"
    );
    // Everyone leaves; a newcomer is served.
    flood.clear();
    let mut served = false;
    for _ in 0..50 {
        let mut s = echo::connect(addr);
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        if std::io::Write::write_all(&mut s, b"ping").is_ok() {
            let mut got = [0u8; 4];
            if std::io::Read::read_exact(&mut s, &mut got).is_ok() && &got == b"ping" {
                served = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(served, "warden did not recover after descriptors freed up");
    let c = counters(&mut w);
    assert!(c["emfile_backoffs"] >= 1, "{c:?}");
    assert!(c["accept_emfile"] >= 1, "{c:?}");
}

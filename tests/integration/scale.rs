//! Many concurrent connections, each verified: the Pi headline (4000) and
//! one run near this machine's descriptor limit (15,000).

use crate::util::{config_with, loadgen, Warden};

fn hold(connections: u32) {
    let w = Warden::start(&config_with(
        "max_connections = 20000\nidle_timeout_s = 0",
        "[status]\nenabled = false",
    ));
    let addr = w.addr().to_string();
    let n = connections.to_string();
    let pid = w.pid().to_string();
    let (status, report) = loadgen(&[
        "hold",
        "--addr",
        &addr,
        "--connections",
        &n,
        "--rate",
        "20000",
        "--sources",
        "4",
        "--hold",
        "2",
        "--server-pid",
        &pid,
    ]);
    assert!(status.success(), "{report}");
    assert_eq!(report["established"], connections, "{report}");
    assert_eq!(report["verified_initial"], connections, "{report}");
    assert_eq!(report["verified_final"], connections, "{report}");
}

#[test]
fn holds_4000_connections_each_verified() {
    hold(4000);
}

#[test]
fn holds_15000_connections_each_verified() {
    hold(15_000);
}

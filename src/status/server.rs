//! Starting and stopping the status server: [`spawn`] binds `status.listen`,
//! starts the network thread ([`super::io_loop`]) and `status.workers`
//! worker threads, and returns a [`StatusServerHandle`] whose
//! [`stop`](StatusServerHandle::stop) (or drop) ends and joins them all.
//!
//! A worker takes a complete request from a bounded queue, copies a
//! [`StatusSnapshot`](super::snapshot::StatusSnapshot) out of the
//! [`StatusSources`], routes it (a pure function) and hands the bytes back
//! to the network thread. The only shared state it reads is the event loop's
//! atomics and the thermal controller's snapshot mutex; nothing here can
//! block or wake the event loop. The probes (`/healthz`, `/ready`) take no
//! worker: the network thread builds them the same way ([`answer_bytes`]).

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpListener;
use mio::{Interest, Poll, Waker};

use super::http::{Method, RequestHead};
use super::io_loop::{Answer, IoLoop, Job, LISTENER, WAKER};
use super::routes::{error_response, needs_history, route};
use super::snapshot::StatusSources;
use crate::config::StatusConfig;

/// Complete requests that may wait for a worker, per worker; beyond, 503.
pub const QUEUED_PER_WORKER: usize = 4;

/// Why the status server could not start.
///
/// The OS error is part of each message and deliberately not an error
/// `source`: the binary prints the chain with `{:#}`, which would repeat it.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// `status.listen` cannot be bound.
    #[error("cannot listen on status.listen {addr}: {os_error}{hint}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        os_error: std::io::Error,
        /// What to do about it, from [`crate::bind_cause::status_hint`].
        hint: &'static str,
    },
    /// `status.listen` is a port one of warden's own service listeners holds (a socket
    /// systemd passed, or `server.listen` still in force after its move failed).
    #[error(
        "cannot listen on status.listen {addr}: warden's own service listener on {listener} \
         holds that port; give status.listen a port of its own, or set status.enabled = false"
    )]
    OwnListener {
        /// The address.
        addr: SocketAddr,
        /// The service listener holding its port.
        listener: SocketAddr,
    },
    /// A poll, waker or thread could not be created.
    #[error("cannot start the status server: {what}: {os_error}")]
    Setup {
        /// What was being created.
        what: &'static str,
        /// The OS error.
        os_error: std::io::Error,
    },
}

impl StatusError {
    /// The error for `os_error` from binding `addr`, with the advice that fits it.
    pub fn bind(addr: SocketAddr, os_error: std::io::Error) -> StatusError {
        let hint = crate::bind_cause::status_hint(addr, &os_error);
        StatusError::Bind {
            addr,
            os_error,
            hint,
        }
    }
}

/// The running status server; stops (and joins its threads) on [`stop`](Self::stop) or drop.
#[derive(Debug)]
pub struct StatusServerHandle {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    threads: Vec<JoinHandle<()>>,
}

impl StatusServerHandle {
    /// The address actually bound (a port 0 in `status.listen` is resolved here).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Closes the listener and every connection, ends the threads and joins them.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.stop.store(true, Relaxed);
        if let Err(e) = self.waker.wake() {
            log::error!("status server: cannot wake its thread to stop it: {e}");
        }
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                log::error!("status server: a thread panicked");
            }
        }
        log::debug!("status server on {} stopped", self.local_addr);
    }
}

impl Drop for StatusServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds `config.listen` and serves the status endpoints from `sources`, at most
/// `max_connections` at once, until the handle is stopped. Does not look at
/// `config.enabled`: the caller decides whether to call it.
pub fn spawn(
    sources: StatusSources,
    config: &StatusConfig,
    max_connections: usize,
) -> Result<StatusServerHandle, StatusError> {
    let setup = |what: &'static str| move |os_error| StatusError::Setup { what, os_error };
    let mut listener = TcpListener::bind(config.listen)
        .map_err(|os_error| StatusError::bind(config.listen, os_error))?;
    let local_addr = listener.local_addr().map_err(setup("local address"))?;
    let poll = Poll::new().map_err(setup("poll"))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(setup("listener registration"))?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(setup("waker"))?);
    let workers = config.workers.max(1);
    let (job_tx, job_rx) = crossbeam_channel::bounded::<Job>(workers * QUEUED_PER_WORKER);
    let (answer_tx, answer_rx) = crossbeam_channel::unbounded::<Answer>();
    let stop = Arc::new(AtomicBool::new(false));
    let sources = Arc::new(sources);
    let mut threads = Vec::with_capacity(workers + 1);
    for index in 0..workers {
        let worker = Worker {
            jobs: job_rx.clone(),
            answers: answer_tx.clone(),
            waker: Arc::clone(&waker),
            sources: Arc::clone(&sources),
        };
        match std::thread::Builder::new()
            .name(format!("status-worker-{index}"))
            .spawn(move || worker.run())
        {
            Ok(thread) => threads.push(thread),
            Err(os_error) => {
                // Closing the queue ends the workers already started.
                drop(job_tx);
                threads.into_iter().for_each(|t| drop(t.join()));
                return Err(StatusError::Setup {
                    what: "worker thread",
                    os_error,
                });
            }
        }
    }
    let io = IoLoop::new(
        poll,
        listener,
        job_tx,
        answer_rx,
        sources,
        Arc::clone(&stop),
        config.request_timeout,
        max_connections,
    );
    // On failure the closure, and with it the queue, is dropped: the workers end.
    match std::thread::Builder::new()
        .name("status-io".into())
        .spawn(move || io.run())
    {
        Ok(thread) => threads.push(thread),
        Err(os_error) => {
            threads.into_iter().for_each(|t| drop(t.join()));
            return Err(StatusError::Setup {
                what: "network thread",
                os_error,
            });
        }
    }
    log::info!("status page on http://{local_addr}/ ({workers} workers)");
    Ok(StatusServerHandle {
        local_addr,
        stop,
        waker,
        threads,
    })
}

/// One worker thread's ends of the queues.
struct Worker {
    jobs: Receiver<Job>,
    answers: Sender<Answer>,
    waker: Arc<Waker>,
    sources: Arc<StatusSources>,
}

/// The answer to `head` on the wire, from a snapshot of `sources` taken now;
/// a panic while building it is answered with a 500 and logged.
pub fn answer_bytes(sources: &StatusSources, head: &RequestHead) -> Vec<u8> {
    let head_only = head.method == Method::Head;
    catch_unwind(AssertUnwindSafe(|| {
        let snapshot = sources.snapshot(needs_history(head));
        route(head, &snapshot).to_bytes(snapshot.taken_at, head_only)
    }))
    .unwrap_or_else(|_| {
        log::error!("status server: answering {} panicked", head.path);
        error_response(500, "internal error while answering; see the warden log")
            .to_bytes(SystemTime::now(), head_only)
    })
}

impl Worker {
    /// Answers jobs until the network thread drops the queue.
    fn run(self) {
        for job in self.jobs.iter() {
            let bytes = answer_bytes(&self.sources, &job.head);
            if self
                .answers
                .send(Answer {
                    key: job.key,
                    serial: job.serial,
                    bytes,
                })
                .is_err()
            {
                return;
            }
            if let Err(e) = self.waker.wake() {
                log::error!("status server: cannot wake the network thread: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// The message as `main` prints it: the whole chain, `{:#}`.
    fn as_printed(err: StatusError) -> String {
        format!("{:#}", anyhow::Error::from(err))
    }

    #[test]
    fn a_privileged_port_asks_for_the_capability_not_a_free_address() {
        let err = StatusError::bind(
            addr("127.0.0.1:81"),
            io::Error::from_raw_os_error(libc::EACCES),
        );
        let text = as_printed(err);
        assert!(text.contains("CAP_NET_BIND_SERVICE"), "{text}");
        assert!(text.contains("status.enabled = false"), "{text}");
        assert!(!text.contains("free address"), "{text}");
    }

    #[test]
    fn eacces_on_a_high_port_is_not_blamed_on_the_port_number() {
        let text = as_printed(StatusError::bind(
            addr("127.0.0.1:9181"),
            io::Error::from_raw_os_error(libc::EACCES),
        ));
        assert!(!text.contains("CAP_NET_BIND_SERVICE"), "{text}");
        assert!(!text.contains("free address"), "{text}");
    }

    #[test]
    fn only_a_taken_port_gets_the_free_address_advice() {
        let text = as_printed(StatusError::bind(
            addr("127.0.0.1:9181"),
            io::Error::from_raw_os_error(libc::EADDRINUSE),
        ));
        assert!(
            text.contains("choose a free address in [status] listen"),
            "{text}"
        );
        let text = as_printed(StatusError::bind(
            addr("192.0.2.1:9181"),
            io::Error::from_raw_os_error(libc::EADDRNOTAVAIL),
        ));
        assert!(
            text.contains("no local interface has this address"),
            "{text}"
        );
        assert!(!text.contains("free address"), "{text}");
    }

    #[test]
    fn the_os_error_is_printed_once() {
        let os_text = io::Error::from_raw_os_error(libc::EACCES).to_string();
        let errors = [
            StatusError::bind(
                addr("127.0.0.1:81"),
                io::Error::from_raw_os_error(libc::EACCES),
            ),
            StatusError::Setup {
                what: "poll",
                os_error: io::Error::from_raw_os_error(libc::EACCES),
            },
        ];
        for err in errors {
            let text = as_printed(err);
            assert_eq!(text.matches(&os_text).count(), 1, "{text}");
        }
    }
}

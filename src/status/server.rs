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
//! block or wake the event loop.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpListener;
use mio::{Interest, Poll, Waker};

use super::http::Method;
use super::io_loop::{Answer, IoLoop, Job, LISTENER, WAKER};
use super::routes::{error_response, needs_history, route};
use super::snapshot::StatusSources;
use crate::config::StatusConfig;

/// Complete requests that may wait for a worker, per worker; beyond, 503.
pub const QUEUED_PER_WORKER: usize = 4;

/// Why the status server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// `status.listen` cannot be bound.
    #[error(
        "cannot listen on status.listen {addr}: {source}; choose a free address in [status] listen, \
         or set status.enabled = false"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A poll, waker or thread could not be created.
    #[error("cannot start the status server: {what}: {source}")]
    Setup {
        /// What was being created.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
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

/// Binds `config.listen` and serves the status endpoints from `sources`
/// until the handle is stopped. Does not look at `config.enabled`: the
/// caller decides whether to call it.
pub fn spawn(
    sources: StatusSources,
    config: &StatusConfig,
) -> Result<StatusServerHandle, StatusError> {
    let setup = |what: &'static str| move |source| StatusError::Setup { what, source };
    let mut listener = TcpListener::bind(config.listen).map_err(|source| StatusError::Bind {
        addr: config.listen,
        source,
    })?;
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
            Err(source) => {
                // Closing the queue ends the workers already started.
                drop(job_tx);
                threads.into_iter().for_each(|t| drop(t.join()));
                return Err(StatusError::Setup {
                    what: "worker thread",
                    source,
                });
            }
        }
    }
    let io = IoLoop::new(
        poll,
        listener,
        job_tx,
        answer_rx,
        Arc::clone(&stop),
        config.request_timeout,
    );
    // On failure the closure, and with it the queue, is dropped: the workers end.
    match std::thread::Builder::new()
        .name("status-io".into())
        .spawn(move || io.run())
    {
        Ok(thread) => threads.push(thread),
        Err(source) => {
            threads.into_iter().for_each(|t| drop(t.join()));
            return Err(StatusError::Setup {
                what: "network thread",
                source,
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

impl Worker {
    /// Answers jobs until the network thread drops the queue.
    fn run(self) {
        for job in self.jobs.iter() {
            let head_only = job.head.method == Method::Head;
            let bytes = catch_unwind(AssertUnwindSafe(|| {
                let snapshot = self.sources.snapshot(needs_history(&job.head));
                route(&job.head, &snapshot).to_bytes(snapshot.taken_at, head_only)
            }))
            .unwrap_or_else(|_| {
                log::error!("status server: answering {} panicked", job.head.path);
                error_response(500, "internal error while answering; see the warden log")
                    .to_bytes(SystemTime::now(), head_only)
            });
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

//! The status server: JSON status, Prometheus metrics, readiness and
//! liveness probes, and a live HTML page, on `status.listen`.
//!
//! The daemon builds [`StatusSources`] (the event loop's shared atomics, the
//! thermal controller's snapshot or why there is none, the service and its
//! addresses) and calls [`spawn`]. Each request copies a plain
//! [`StatusSnapshot`] out of the sources; [`routes::route`] turns request and
//! snapshot into a response as a pure function. The server is bounded: a
//! fixed number of worker threads, one network thread that never blocks,
//! a cap on open connections and a deadline per request ([`io_loop`]
//! explains why tiny_http's own connection handling is not used).
//! `warden status` is the [`client`]. docs/STATUS.md documents every field.

pub mod client;
pub mod encoding;
pub mod http;
pub mod io_loop;
pub mod json;
pub mod live;
pub mod metrics;
pub mod page;
pub mod routes;
pub mod server;
pub mod snapshot;
pub mod table;

#[cfg(test)]
mod tests;

pub use client::ClientError;
pub use live::LiveStatus;
pub use server::{spawn, StatusError, StatusServerHandle};
pub use snapshot::{StatusSnapshot, StatusSources, ThermalSource};

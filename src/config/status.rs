//! `[status]`: the HTTP status page (JSON, Prometheus metrics, readiness).

use std::net::SocketAddr;
use std::time::Duration;

use super::defaults::*;
use super::error::{ConfigError, ConfigErrorKind};
use super::limits::*;
use super::raw::RawStatus;
use super::server::ServerConfig;
use super::validate::{address_text, in_range, integer_in, millis_in_range, socket_address};

/// Validated `[status]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusConfig {
    /// Serve the status page at all.
    pub enabled: bool,
    /// Address of the status page.
    pub listen: SocketAddr,
    /// Threads answering status requests.
    pub workers: usize,
    /// Longest time spent on one status request.
    pub request_timeout: Duration,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            enabled: DEFAULT_STATUS_ENABLED,
            listen: DEFAULT_STATUS_LISTEN,
            workers: DEFAULT_STATUS_WORKERS,
            request_timeout: Duration::from_millis(DEFAULT_STATUS_REQUEST_TIMEOUT_MS),
        }
    }
}

/// Applies defaults, ranges and the address rule to `[status]`.
pub(super) fn validate(raw: RawStatus) -> Result<StatusConfig, ConfigError> {
    Ok(StatusConfig {
        enabled: raw.enabled.unwrap_or(DEFAULT_STATUS_ENABLED),
        listen: match raw.listen {
            Some(text) => socket_address("status.listen", &text)?,
            None => DEFAULT_STATUS_LISTEN,
        },
        workers: in_range(
            "status.workers",
            raw.workers.unwrap_or(DEFAULT_STATUS_WORKERS),
            &STATUS_WORKERS_RANGE,
        )?,
        request_timeout: millis_in_range(
            "status.request_timeout_ms",
            raw.request_timeout_ms
                .unwrap_or(DEFAULT_STATUS_REQUEST_TIMEOUT_MS),
            &STATUS_REQUEST_TIMEOUT_MS_RANGE,
        )?,
    })
}

/// Rejects a status address that would collide with a service listener (same port,
/// overlapping IP), naming the side the file wrote: `server.listen` carries whether it
/// was written; a `status.listen` equal to its default is taken as the default.
pub(super) fn check_against_server(
    status: &StatusConfig,
    server: &ServerConfig,
) -> Result<(), ConfigError> {
    if !status.enabled {
        return Ok(());
    }
    let clash = server
        .listen
        .iter()
        .enumerate()
        .find(|(_, service)| addresses_overlap(&status.listen, service));
    let Some((index, service)) = clash else {
        return Ok(());
    };
    let status_is_default = status.listen == DEFAULT_STATUS_LISTEN;
    if status_is_default && server.listen_given {
        return Err(ConfigError::at_key(
            ConfigErrorKind::Conflict,
            format!("server.listen[{index}]"),
            format!(
                "{service} collides with status.listen, whose default is {DEFAULT_STATUS_LISTEN}"
            ),
        )
        .allowing(
            "give this listener another port, or move status.listen to an address that no \
             server.listen address overlaps (or set status.enabled = false)",
        ));
    }
    let (other, allowed) = if server.listen_given {
        (
            format!("server.listen[{index}] ({service})"),
            "allowed a port that no server.listen address uses".to_string(),
        )
    } else {
        (
            format!("server.listen, whose default is [\"{DEFAULT_SERVER_LISTEN}\"]"),
            format!(
                "use a port other than {}, or set server.listen to addresses that leave it free",
                service.port()
            ),
        )
    };
    Err(ConfigError::at_key(
        ConfigErrorKind::Conflict,
        "status.listen",
        format!("{} collides with {other}", status.listen),
    )
    .allowing(allowed))
}

/// True if binding both would fail: same non-zero port and an IP one covers.
/// Service sockets on `[::]` are IPv6-only (`IPV6_V6ONLY`), so they cover only
/// IPv6; the status page's `[::]` is taken as dual-stack, covering both.
pub(crate) fn addresses_overlap(status: &SocketAddr, service: &SocketAddr) -> bool {
    status.port() == service.port()
        && status.port() != 0
        && (status.ip() == service.ip()
            || (status.ip().is_unspecified() && (status.is_ipv6() || service.is_ipv4()))
            || (service.ip().is_unspecified() && service.is_ipv4() == status.is_ipv4()))
}

/// What `status.<field>` accepts, for wrong-type messages.
pub(super) fn describe(field: &str) -> Option<String> {
    Some(match field {
        "enabled" => "true or false".to_string(),
        "listen" => address_text(),
        "workers" => integer_in(&STATUS_WORKERS_RANGE),
        "request_timeout_ms" => integer_in(&STATUS_REQUEST_TIMEOUT_MS_RANGE),
        _ => return None,
    })
}

//! `[server]`: the listening sockets and the limits of the connection event loop.

use std::net::SocketAddr;
use std::time::Duration;

use super::defaults::*;
use super::error::{ConfigError, ConfigErrorKind};
use super::limits::*;
use super::raw::RawServer;
use super::validate::{
    address_text, choice, choices_text, in_range, integer_in, optional_seconds, seconds_in_range,
    socket_address,
};

choice_enum! {
    /// The protocol spoken on the listening sockets.
    pub enum Service {
        /// Bytes in, the same bytes out: the reference workload.
        Echo = "echo",
    }
}

choice_enum! {
    /// What the event loop does with new connections at `max_connections`.
    pub enum AtCapacity {
        /// Stop accepting; newcomers wait in the kernel backlog until load falls below 90 %.
        Pause = "pause",
        /// Accept and close at once, so clients fail fast.
        Reject = "reject",
    }
}

/// Validated `[server]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Addresses to listen on (non-empty, no duplicates).
    pub listen: Vec<SocketAddr>,
    /// True when the file set `listen` itself rather than taking the default.
    pub listen_given: bool,
    /// Protocol served on every listener.
    pub service: Service,
    /// listen(2) backlog of each listening socket.
    pub backlog: u32,
    /// Connections held at once before `at_capacity` applies.
    pub max_connections: usize,
    /// Behaviour when `max_connections` is reached.
    pub at_capacity: AtCapacity,
    /// Per-connection write backlog beyond which reading from that peer stops.
    pub max_pending_bytes: usize,
    /// Size of the event loop's shared read buffer.
    pub read_buffer_bytes: usize,
    /// Silence after which a connection is closed; `None` = never.
    pub idle_timeout: Option<Duration>,
    /// Time connections get to finish after a stop request.
    pub drain_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec![DEFAULT_SERVER_LISTEN],
            listen_given: false,
            service: DEFAULT_SERVICE,
            backlog: DEFAULT_BACKLOG,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            at_capacity: DEFAULT_AT_CAPACITY,
            max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
            read_buffer_bytes: DEFAULT_READ_BUFFER_BYTES,
            idle_timeout: Some(Duration::from_secs(DEFAULT_IDLE_TIMEOUT_S)),
            drain_timeout: Duration::from_secs(DEFAULT_DRAIN_TIMEOUT_S),
        }
    }
}

/// Applies defaults and range, choice and address rules to `[server]`.
pub(super) fn validate(raw: RawServer) -> Result<ServerConfig, ConfigError> {
    let listen_given = raw.listen.is_some();
    let listen = match raw.listen {
        Some(texts) => listen_addresses(&texts)?,
        None => vec![DEFAULT_SERVER_LISTEN],
    };
    Ok(ServerConfig {
        listen,
        listen_given,
        service: match raw.service {
            Some(text) => choice("server.service", &text, Service::CHOICES)?,
            None => DEFAULT_SERVICE,
        },
        backlog: in_range(
            "server.backlog",
            raw.backlog.unwrap_or(DEFAULT_BACKLOG),
            &BACKLOG_RANGE,
        )?,
        max_connections: in_range(
            "server.max_connections",
            raw.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
            &MAX_CONNECTIONS_RANGE,
        )?,
        at_capacity: match raw.at_capacity {
            Some(text) => choice("server.at_capacity", &text, AtCapacity::CHOICES)?,
            None => DEFAULT_AT_CAPACITY,
        },
        max_pending_bytes: in_range(
            "server.max_pending_bytes",
            raw.max_pending_bytes.unwrap_or(DEFAULT_MAX_PENDING_BYTES),
            &MAX_PENDING_BYTES_RANGE,
        )?,
        read_buffer_bytes: in_range(
            "server.read_buffer_bytes",
            raw.read_buffer_bytes.unwrap_or(DEFAULT_READ_BUFFER_BYTES),
            &READ_BUFFER_BYTES_RANGE,
        )?,
        idle_timeout: optional_seconds(
            "server.idle_timeout_s",
            raw.idle_timeout_s.unwrap_or(DEFAULT_IDLE_TIMEOUT_S),
            &IDLE_TIMEOUT_S_RANGE,
        )?,
        drain_timeout: seconds_in_range(
            "server.drain_timeout_s",
            raw.drain_timeout_s.unwrap_or(DEFAULT_DRAIN_TIMEOUT_S),
            &DRAIN_TIMEOUT_S_RANGE,
        )?,
    })
}

/// Parses `server.listen`: at least one address, each listed once.
fn listen_addresses(texts: &[String]) -> Result<Vec<SocketAddr>, ConfigError> {
    if texts.is_empty() {
        return Err(ConfigError::at_key(
            ConfigErrorKind::BadValue,
            "server.listen",
            "the list is empty",
        )
        .allowing(format!(
            "allowed at least one address, each {}",
            address_text()
        )));
    }
    let most = MAX_LISTEN_ADDRESSES;
    if texts.len() > most {
        return Err(ConfigError::at_key(
            ConfigErrorKind::BadValue,
            "server.listen",
            format!("{} addresses are listed", texts.len()),
        )
        .allowing(format!(
            "allowed at most {most} (one event loop serves that many listeners; a wildcard \
             such as 0.0.0.0:PORT covers every local address)"
        )));
    }
    let mut addresses: Vec<SocketAddr> = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        let key = format!("server.listen[{index}]");
        let address = socket_address(&key, text)?;
        if let Some(first) = addresses.iter().position(|a| *a == address) {
            return Err(ConfigError::at_key(
                ConfigErrorKind::BadValue,
                key,
                format!("{address} is listed twice (also server.listen[{first}])"),
            )
            .allowing("allowed each address once"));
        }
        if let Some((first, other)) = addresses
            .iter()
            .enumerate()
            .find(|(_, other)| listeners_overlap(other, &address))
        {
            return Err(ConfigError::at_key(
                ConfigErrorKind::Conflict,
                key,
                format!(
                    "{address} overlaps server.listen[{first}] ({other}): both cannot be bound"
                ),
            )
            .allowing("allowed either the wildcard or specific addresses on one port, not both"));
        }
        addresses.push(address);
    }
    Ok(addresses)
}

/// True if two service listeners cannot both be bound: same non-zero port and
/// family, and one is the wildcard (`[::]` is IPv6-only, so it never covers IPv4).
pub(crate) fn listeners_overlap(a: &SocketAddr, b: &SocketAddr) -> bool {
    a.port() == b.port()
        && a.port() != 0
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// What `server.<field>` accepts, for wrong-type messages.
pub(super) fn describe(field: &str) -> Option<String> {
    Some(match field {
        "listen" => format!("a non-empty array of strings, each {}", address_text()),
        "service" => choices_text(Service::CHOICES),
        "backlog" => integer_in(&BACKLOG_RANGE),
        "max_connections" => integer_in(&MAX_CONNECTIONS_RANGE),
        "at_capacity" => choices_text(AtCapacity::CHOICES),
        "max_pending_bytes" => integer_in(&MAX_PENDING_BYTES_RANGE),
        "read_buffer_bytes" => integer_in(&READ_BUFFER_BYTES_RANGE),
        "idle_timeout_s" => format!("{} (0 = never)", integer_in(&IDLE_TIMEOUT_S_RANGE)),
        "drain_timeout_s" => integer_in(&DRAIN_TIMEOUT_S_RANGE),
        _ => return None,
    })
}

//! Content negotiation for `Accept-Encoding: gzip` (RFC 9110 §12.5.3):
//! a response body is gzipped when the client accepts gzip with a non-zero
//! quality, either by name or through `*`. A quality that is not an RFC 9110
//! qvalue (`q=abc`, `q=1.5`, `q=-1`) makes its entry count as quality 0, not
//! acceptable: the plain body is always a safe answer to a header we cannot read.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::http::Response;

/// Bodies shorter than this are sent as they are: gzip would not pay for its header.
pub const MIN_GZIP_BYTES: usize = 256;

/// True when `accept_encoding` allows gzip.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    let mut gzip_q: Option<f32> = None;
    let mut star_q: Option<f32> = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .map_or(Some(1.0), qvalue)
            .unwrap_or(0.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip_q = Some(q),
            "*" => star_q = Some(q),
            _ => {}
        }
    }
    gzip_q.or(star_q).is_some_and(|q| q > 0.0)
}

/// The weight of an RFC 9110 §12.4.2 `qvalue`
/// (`"0" ["." 0*3DIGIT]` or `"1" ["." 0*3"0"]`), or `None` when `text` is not one.
pub fn qvalue(text: &str) -> Option<f32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_ok = fraction.len() <= 3 && fraction.bytes().all(|b| b.is_ascii_digit());
    match whole {
        "0" if digits_ok => Some(format!("0.{fraction}0").parse().unwrap_or(0.0)),
        "1" if digits_ok && fraction.bytes().all(|b| b == b'0') => Some(1.0),
        _ => None,
    }
}

/// Gzips `response`'s body if the client accepts it and the body is worth it.
/// `Vary: Accept-Encoding`, which keeps the two forms apart in caches, is one
/// of the [`COMMON_HEADERS`](super::http::COMMON_HEADERS) every answer carries.
pub fn negotiate(mut response: Response, accept_encoding: Option<&str>) -> Response {
    if response.body.len() < MIN_GZIP_BYTES || !accepts_gzip(accept_encoding) {
        return response;
    }
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(response.body.len() / 4),
        Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    if encoder.write_all(&response.body).is_err() {
        return response;
    }
    match encoder.finish() {
        Ok(gzipped) => {
            response.body = gzipped;
            response
                .headers
                .push(("Content-Encoding", "gzip".to_string()));
            response
        }
        Err(_) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn reads_quality_values() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, GZIP;q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(accepts_gzip(Some("br;q=1.0, *;q=0.1")));
        assert!(!accepts_gzip(None));
        assert!(!accepts_gzip(Some("")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(
            !accepts_gzip(Some("gzip;q=0.000, *")),
            "an explicit gzip;q=0 beats *"
        );
    }

    #[test]
    fn an_invalid_quality_is_not_acceptable() {
        for header in [
            "gzip;q=abc",
            "gzip;q=1.5",
            "gzip;q=2",
            "gzip;q=-1",
            "gzip;q=0.0001",
            "gzip;q=",
            "gzip;q=.5",
            "gzip;q=1.01",
            "gzip;q=abc, *",
            "*;q=nope",
        ] {
            assert!(!accepts_gzip(Some(header)), "{header}");
        }
        assert!(accepts_gzip(Some("gzip;q=1.000")));
        assert!(accepts_gzip(Some("gzip; Q=0.001")));
        assert!(
            accepts_gzip(Some("gzip;level=1")),
            "other parameters are ignored"
        );
        assert_eq!(qvalue("0.5"), Some(0.5));
        assert_eq!(qvalue("0."), Some(0.0));
        assert_eq!(qvalue("1"), Some(1.0));
        assert_eq!(qvalue("0.25"), Some(0.25));
        assert_eq!(qvalue("1.5"), None);
    }

    #[test]
    fn gzips_large_bodies_and_round_trips() {
        let body = "warden ".repeat(200).into_bytes();
        let response = negotiate(Response::new(200, "text/plain", body.clone()), Some("gzip"));
        assert_eq!(response.header("Content-Encoding"), Some("gzip"));
        assert!(response.body.len() < body.len());
        let mut plain = Vec::new();
        GzDecoder::new(&response.body[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
    }

    #[test]
    fn leaves_small_or_unwanted_bodies_alone() {
        let small = negotiate(
            Response::new(200, "text/plain", b"ok".to_vec()),
            Some("gzip"),
        );
        assert_eq!(small.header("Content-Encoding"), None);
        assert_eq!(small.body, b"ok");
        let big = "x".repeat(1000).into_bytes();
        let unwanted = negotiate(Response::new(200, "text/plain", big.clone()), Some("br"));
        assert_eq!(unwanted.header("Content-Encoding"), None);
        assert_eq!(unwanted.body, big);
    }
}

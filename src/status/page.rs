//! `GET /`: the live page. One self-contained HTML file (`page.html`,
//! compiled in) with inline CSS and JavaScript and no external assets; it
//! polls `/status` and `/status/history` every 2 s (each request abandoned
//! after 3 s, so a warden that stops answering shows the "cannot reach
//! warden" banner instead of a frozen page) and draws SVG charts of
//! temperature (with the stage thresholds), fan duty and active connections
//! over the last 10 minutes. A banner says so when `/status` reports
//! `"simulated": true`. A Content-Security-Policy forbids the page any
//! request but to this server.

use super::http::Response;

/// The page, as served.
pub const PAGE_HTML: &str = include_str!("page.html");

/// Nothing but the inline script and styles, and requests back to this server.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

/// The answer to `GET /`.
pub fn response() -> Response {
    Response::new(
        200,
        "text/html; charset=utf-8",
        PAGE_HTML.as_bytes().to_vec(),
    )
    .with_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    .with_header("X-Content-Type-Options", "nosniff")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_loads_nothing_from_elsewhere() {
        for needle in ["src=", "href=", "@import", "url(", "//cdn", "https://"] {
            assert!(!PAGE_HTML.contains(needle), "page.html contains {needle:?}");
        }
        let foreign: Vec<&str> = PAGE_HTML
            .match_indices("http://")
            .map(|(i, _)| &PAGE_HTML[i..i + 30])
            .filter(|s| !s.starts_with("http://www.w3.org/2000/svg"))
            .collect();
        assert!(foreign.is_empty(), "{foreign:?}");
    }

    #[test]
    fn page_polls_both_json_endpoints_and_has_the_three_charts() {
        for needle in [
            "\"/status\"",
            "\"/status/history\"",
            "id=\"chart-temp\"",
            "id=\"chart-fan\"",
            "id=\"chart-conn\"",
            "REFRESH_MS = 2000",
        ] {
            assert!(PAGE_HTML.contains(needle), "page.html lacks {needle}");
        }
    }

    #[test]
    fn the_simulation_banner_starts_hidden_and_follows_the_status_field() {
        let tag_start = PAGE_HTML
            .find("<div id=\"simulated\"")
            .expect("page.html has no #simulated banner");
        let tag = &PAGE_HTML[tag_start..tag_start + PAGE_HTML[tag_start..].find('>').unwrap()];
        assert!(
            tag.ends_with(" hidden"),
            "the banner must be hidden until /status says simulated: {tag}"
        );
        assert!(PAGE_HTML.contains("#simulated[hidden] { display:none; }"));
        // Shown only on an explicit `true`, so an older warden without the field looks real.
        assert!(PAGE_HTML.contains("$(\"simulated\").hidden = s.simulated !== true;"));
    }
}

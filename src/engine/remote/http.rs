//! HTTP to an OpenAI-compatible server: one ureq agent (blocking, rustls;
//! the engine already runs on its own threads, so an async runtime would
//! add a second scheduler for nothing), the API key from an environment
//! variable, retries of 429/503 with bounded exponential backoff, and every
//! failure worded for the user without the key or credentials.

use std::io::Read;
use std::time::Duration;

/// A failure talking to the server, worded for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Largest JSON body read whole (model lists, properties).
const MAX_BODY: u64 = 64 << 20;

/// Most of an error body read: only its message is shown.
const MAX_ERROR_BODY: u64 = 1 << 20;

/// Attempts for a request the server answers 429 or 503 (busy, loading).
const ATTEMPTS: u32 = 5;

#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080/v1`.
    pub base: String,
    key: Option<String>,
    /// First wait before a retry (doubled each time).
    pub backoff: Duration,
    /// Longest wait to connect, for an answer's first byte, and between
    /// two bytes of a stream (`--timeout`).
    pub timeout: Duration,
}

/// Check a base URL and strip what must never be stored: a URL with
/// user:password is refused (the key goes in an environment variable).
pub fn clean_base_url(url: &str) -> Result<String, HttpError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            HttpError(format!(
                "server URL {:?} must start with http:// or https:// (e.g. http://127.0.0.1:8080/v1)",
                redact(url)
            ))
        })?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(HttpError(
            "the server URL holds a user name or password: remove it and give the key with --api-key-env VAR".into(),
        ));
    }
    if authority.is_empty() {
        return Err(HttpError(format!("server URL {url:?} has no host")));
    }
    Ok(url.to_owned())
}

/// A URL with any `user:password@` part replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(a)) if a > s && !url[s + 3..a].contains('/') => {
            format!("{}***@{}", &url[..s + 3], &url[a + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The root of a base URL (`http://h:p/v1` → `http://h:p`), where
/// llama-server and SGLang serve their own endpoints.
pub fn root_of(base: &str) -> &str {
    base.strip_suffix("/v1").unwrap_or(base)
}

impl Http {
    /// An agent with `timeout` to connect and to the first byte of every
    /// response; the key (if any) is read from `key`.
    pub fn new(base: &str, key: Option<String>, timeout: Duration) -> Result<Self, HttpError> {
        let base = clean_base_url(base)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .http_status_as_error(false)
            // A fresh connection per request: a pooled one the server has
            // closed meanwhile (after a stream, or idle) fails the next
            // request with "peer disconnected"; a handshake costs nothing
            // next to a generated answer.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .user_agent(concat!("reasonscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Http {
            agent,
            base,
            key,
            backoff: Duration::from_millis(500),
            timeout,
        })
    }

    /// `base` + `path` (`/models`) or the server's root + `path` when `root`.
    pub fn url(&self, path: &str, root: bool) -> String {
        if root {
            format!("{}{path}", root_of(&self.base))
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// GET a JSON document; `None` for 404 (an endpoint this server lacks).
    pub fn get_json(&self, url: &str) -> Result<Option<serde_json::Value>, HttpError> {
        let resp = self.retrying(url, || {
            let mut req = self.whole(self.agent.get(url));
            if let Some(k) = &self.key {
                req = req.header("Authorization", format!("Bearer {k}"));
            }
            req.call()
        })?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(status_error(status, url, &read_error_body(resp)));
        }
        let body = read_body(resp, url, MAX_BODY)?;
        parse_json(&body, url).map(Some)
    }

    /// POST a JSON body; the response, whatever its status past retries.
    pub fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<ureq::http::Response<ureq::Body>, HttpError> {
        self.post_as(url, body, false)
    }

    /// A request whose answer is read whole: its body, once the head has
    /// come, must come within `timeout` too (a server that sent a head and
    /// then nothing held the caller for ever). A stream has no such limit:
    /// its reader watches for silence instead.
    fn whole<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        req.config().timeout_recv_body(Some(self.timeout)).build()
    }

    fn post_as(
        &self,
        url: &str,
        body: &serde_json::Value,
        whole: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, HttpError> {
        let bytes = serde_json::to_vec(body).map_err(|e| HttpError(e.to_string()))?;
        let resp = self.retrying(url, || {
            let req = self.agent.post(url);
            let mut req = if whole { self.whole(req) } else { req }
                .header("Content-Type", "application/json")
                .header("Accept", "text/event-stream, application/json");
            if let Some(k) = &self.key {
                req = req.header("Authorization", format!("Bearer {k}"));
            }
            req.send(&bytes[..])
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(status_error(status, url, &read_error_body(resp)));
        }
        Ok(resp)
    }

    /// POST a JSON body and read a JSON answer (no streaming) of at most
    /// `limit` bytes: the caller knows how much it asked for.
    pub fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        limit: u64,
    ) -> Result<serde_json::Value, HttpError> {
        let resp = self.post_as(url, body, true)?;
        let bytes = read_body(resp, url, limit)?;
        parse_json(&bytes, url)
    }

    /// Send with retries of 429 and 503 (backoff doubling from `backoff`,
    /// honouring a short Retry-After); transport errors are not retried.
    fn retrying(
        &self,
        url: &str,
        mut send: impl FnMut() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, HttpError> {
        let mut wait = self.backoff;
        for attempt in 1..=ATTEMPTS {
            let resp = send().map_err(|e| transport_error(&e, url))?;
            let status = resp.status().as_u16();
            if (status == 429 || status == 503) && attempt < ATTEMPTS {
                let after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .filter(|d| *d <= Duration::from_secs(30));
                std::thread::sleep(after.unwrap_or(wait));
                wait = (wait * 2).min(Duration::from_secs(16));
                continue;
            }
            return Ok(resp);
        }
        unreachable!("the last attempt returns")
    }
}

fn read_body(
    resp: ureq::http::Response<ureq::Body>,
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| HttpError(format!("{}: the response broke off: {e}", redact(url))))?;
    if out.len() as u64 > limit {
        return Err(HttpError(format!(
            "{}: the response is larger than {}, more than this request's answer can hold",
            redact(url),
            size_words(limit)
        )));
    }
    Ok(out)
}

/// The head of an error body (whatever arrived; a broken one is empty).
fn read_error_body(resp: ureq::http::Response<ureq::Body>) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut out);
    out
}

/// `64 MiB`, `1.5 MiB`, `512 KiB`.
fn size_words(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        let mib = bytes as f64 / (1u64 << 20) as f64;
        format!("{} MiB", (mib * 10.0).round() / 10.0)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

pub fn parse_json(body: &[u8], url: &str) -> Result<serde_json::Value, HttpError> {
    serde_json::from_slice(body).map_err(|e| {
        HttpError(format!(
            "{}: the server's answer is not JSON ({e}): {}",
            redact(url),
            snippet(body)
        ))
    })
}

/// The first 200 characters of a body, for messages.
pub fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    let mut out: String = s.chars().take(200).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    if out.is_empty() {
        "(empty body)".into()
    } else {
        out
    }
}

/// The server's own message from an error body (OpenAI's
/// `{"error": {"message"}}` or a plain `{"message"}`/`{"detail"}`).
fn server_message(body: &[u8]) -> String {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let msg = v.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"))
            .or_else(|| v.get("error"))
            .and_then(|m| m.as_str().map(str::to_owned))
    });
    msg.unwrap_or_else(|| snippet(body))
}

fn status_error(status: u16, url: &str, body: &[u8]) -> HttpError {
    let url = redact(url);
    let msg = server_message(body);
    HttpError(match status {
        401 | 403 => format!(
            "{url}: the server refused the request ({status}, {msg}): give the API key with --api-key-env VAR (the name of an environment variable holding it)"
        ),
        404 => format!("{url}: not found (404, {msg}): check the URL (it usually ends in /v1) and the model name"),
        429 | 503 => format!(
            "{url}: the server is busy ({status}, {msg}) and stayed so after {ATTEMPTS} attempts with growing waits; try again later or lower --concurrency"
        ),
        _ => format!("{url}: the server answered {status}: {msg}"),
    })
}

fn transport_error(e: &ureq::Error, url: &str) -> HttpError {
    let url = redact(url);
    HttpError(match e {
        ureq::Error::HostNotFound => {
            format!("{url}: host not found (DNS): check the server URL")
        }
        ureq::Error::ConnectionFailed => {
            format!("{url}: connection refused: is the server running, and on this port?")
        }
        ureq::Error::Timeout(t) => format!(
            "{url}: no answer in time ({t}); raise --timeout if the server is slow to start"
        ),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("{url}: connection refused: is the server running, and on this port?")
        }
        ureq::Error::Io(io) => format!("{url}: {io}"),
        ureq::Error::Tls(m) => format!("{url}: TLS failed: {m}"),
        ureq::Error::Rustls(r) => format!("{url}: TLS failed: {r}"),
        other => format!("{url}: {other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_credentials_are_refused_and_redacted() {
        assert!(clean_base_url("http://u:secret@host:8080/v1")
            .unwrap_err()
            .0
            .contains("--api-key-env"));
        assert_eq!(redact("http://u:secret@host/v1"), "http://***@host/v1");
        assert_eq!(redact("http://host/v1?a=b@c"), "http://host/v1?a=b@c");
        assert_eq!(
            clean_base_url(" http://127.0.0.1:8080/v1/ ").unwrap(),
            "http://127.0.0.1:8080/v1"
        );
        assert!(clean_base_url("127.0.0.1:8080").is_err());
        assert_eq!(root_of("http://h:1/v1"), "http://h:1");
    }

    /// A server on 127.0.0.1 that answers one request with `head` and a
    /// body of `body`; the base URL.
    fn serve_once(head: &'static str, body: Vec<u8>) -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // The request's head and its (short) JSON body.
            while !String::from_utf8_lossy(&got).contains("}") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                s,
                "HTTP/1.1 {head}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        });
        format!("http://127.0.0.1:{port}/v1")
    }

    #[test]
    fn a_posted_answer_is_read_up_to_its_limit_and_an_error_body_in_part() {
        let padded = |n: usize| format!("{{\"pad\": \"{}\"}}", "x".repeat(n)).into_bytes();
        let post = |base: &str, limit: u64| {
            let http = Http::new(base, None, Duration::from_secs(10)).unwrap();
            http.post_json(
                &http.url("/chat/completions", false),
                &serde_json::json!({}),
                limit,
            )
        };
        let e = post(&serve_once("200 OK", padded(2 << 20)), 1 << 20).unwrap_err();
        assert!(e.0.contains("larger than 1 MiB"), "{e}");
        let v = post(&serve_once("200 OK", padded(2 << 20)), 3 << 20).unwrap();
        assert_eq!(v["pad"].as_str().map(str::len), Some(2 << 20));
        // A 3 MiB error body: its status and the head of its text.
        let e = post(
            &serve_once("500 Internal Server Error", padded(3 << 20)),
            1 << 20,
        )
        .unwrap_err();
        assert!(
            e.0.contains("500") && e.0.contains("xxx") && e.0.len() < 2000,
            "{e}"
        );
        assert_eq!(size_words(1 << 20), "1 MiB");
        assert_eq!(size_words((1 << 20) + (16 << 10)), "1 MiB");
        assert_eq!(size_words(3 << 19), "1.5 MiB");
        assert_eq!(size_words(512 << 10), "512 KiB");
    }

    #[test]
    fn server_messages_are_read_from_error_bodies() {
        assert_eq!(
            server_message(br#"{"error":{"message":"model not found","code":404}}"#),
            "model not found"
        );
        assert_eq!(server_message(b"<html>oops</html>"), "<html>oops</html>");
    }
}

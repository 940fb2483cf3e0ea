//! The real llama-server (built by scripts/build-llama-server.sh from the
//! llama.cpp sources in the llama-cpp-python sdist), started on 127.0.0.1
//! with a free port and the default model, stopped by its process id.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct LlamaServer {
    child: Child,
    pub port: u16,
    killed: bool,
}

pub fn binary() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/llama-server");
    assert!(
        p.is_file(),
        "llama-server is missing at {}; run scripts/build-llama-server.sh (make test does)",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl LlamaServer {
    /// Start it with `slots` parallel slots of `ctx_per_slot` tokens each
    /// and wait until /health answers 200.
    pub fn start(slots: u32, ctx_per_slot: u32) -> Self {
        Self::start_with(slots, ctx_per_slot, &[])
    }

    /// `start` with more command-line arguments.
    pub fn start_with(slots: u32, ctx_per_slot: u32, extra: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(binary())
            .args(["-m"])
            .arg(crate::common::model_path())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-np", &slots.to_string()])
            .args(["-c", &(slots * ctx_per_slot).to_string()])
            .args(["-t", "2", "--no-webui"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("llama-server starts");
        let server = LlamaServer {
            child,
            port,
            killed: false,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if http_get(port, "/health").is_some_and(|(s, _)| s == 200) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("llama-server did not become ready on port {port}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kill it now (SIGKILL by pid), as a crash would.
    pub fn kill(&mut self) {
        if std::mem::replace(&mut self.killed, true) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-9", &self.pid().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// POST a JSON body to the server's root; (status, body).
    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let mut resp = agent()
            .post(&format!("http://127.0.0.1:{}{path}", self.port))
            .send_json(body)
            .expect("llama-server answers");
        let status = resp.status().as_u16();
        let v = resp
            .body_mut()
            .read_json()
            .unwrap_or(serde_json::Value::Null);
        (status, v)
    }
}

/// A client that hands back every status (tests check them).
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// GET `path` from 127.0.0.1:`port`; None when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut resp = agent()
        .get(&format!("http://127.0.0.1:{port}{path}"))
        .call()
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.body_mut().read_to_vec().ok()?))
}

/// A local listener that answers each connection with the next canned
/// response (raw bytes, written then the connection closed): for the fault
/// cases a real server does not produce (garbage, cut streams, 503s).
pub struct Scripted {
    pub port: u16,
    thread: Option<std::thread::JoinHandle<()>>,
    /// What each connection sent (its first read), in order.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Scripted {
    pub fn start(responses: Vec<Vec<u8>>) -> Self {
        Self::start_holding(responses, Duration::ZERO)
    }

    /// Like `start`, but each connection is held open for `hold` after its
    /// response is written (a server that stops sending mid-stream).
    pub fn start_holding(responses: Vec<Vec<u8>>, hold: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        let thread = std::thread::spawn(move || {
            for resp in responses {
                let Ok((mut s, _)) = listener.accept() else {
                    return;
                };
                // Read the request head (and a body, if any) before answering.
                let mut buf = [0u8; 65536];
                let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
                let mut got = Vec::new();
                // The head, then the body its Content-Length announces.
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&got).into_owned());
                let _ = s.write_all(&resp);
                let _ = s.flush();
                if !hold.is_zero() {
                    // Held open on its own thread: the next one is accepted.
                    std::thread::spawn(move || {
                        std::thread::sleep(hold);
                        drop(s);
                    });
                }
            }
        });
        Scripted {
            port,
            thread: Some(thread),
            requests,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        // Unblock a pending accept.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTP response with a JSON (or any) body.
pub fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A streamed response cut off after `body` (no Content-Length, no end).
pub fn cut_stream(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n{body}")
        .into_bytes()
}

/// A chunked event stream (as real servers send) that stops after `body`
/// without its final chunk.
pub fn chunked_stream(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n",
        body.len()
    )
    .into_bytes()
}

pub const MODELS: &str =
    r#"{"object":"list","data":[{"id":"scripted","object":"model","owned_by":"someone"}]}"#;

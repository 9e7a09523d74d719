//! What the `cspguard` binary's integration tests share: running the binary, a small simulated book, users and
//! tokens, a server on a free loopback port, and JSON calls to it. Each test file uses a part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cspguard"));
    c.env_remove("CSPGUARD_DATABASE_URL")
        .env_remove("CSPGUARD_USER");
    c
}

pub fn run(data: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut c = bin();
    c.arg("--data-dir").arg(data).args(args);
    if let Some(p) = password {
        c.env("CSPGUARD_PASSWORD", p);
    }
    c.output().unwrap()
}

pub fn ok(data: &Path, args: &[&str], password: Option<&str>) -> String {
    let o = run(data, args, password);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn start(data: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = bin()
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Owned by the guard from here on: killed and waited for on every path, the panic below included.
    let srv = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if reqwest::get(format!("{}/healthz", srv.base)).await.is_ok() {
            return srv;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

/// A small book simulated and imported with detection into `tmp/data`.
pub fn book_data(tmp: &Path) -> PathBuf {
    let book = small_book(tmp);
    let data = tmp.join("data");
    ok(
        &data,
        &[
            "import",
            "auto",
            book.to_str().unwrap(),
            "--detect",
            "--quiet",
        ],
        None,
    );
    data
}

pub const PW: &str = "a long enough password";

pub fn user(data: &Path, name: &str, role: &str, reseller: Option<&str>) -> String {
    let mut args = vec!["users", "add", name, "--role", role];
    if let Some(r) = reseller {
        args.extend(["--reseller", r]);
    }
    ok(data, &args, Some(PW));
    ok(data, &["users", "token", name], None).trim().to_string()
}

pub async fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let c = reqwest::Client::new();
    let mut r = match method {
        "GET" => c.get(url),
        "DELETE" => c.delete(url),
        _ => c.post(url),
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

/// One route of the role × route matrix: method, URL, body, and whether each role may use it, in the order global
/// admin, user management admin, admin agent, billing admin.
pub type MatrixRoute<'a> = (&'a str, String, Option<Value>, [bool; 4]);

/// Checks the role × route matrix: no credential and a wrong token get 401; an allowed role gets neither 401, 403
/// nor a server error; any other role gets 403. `tokens` are the four roles' tokens in the matrix's order.
pub async fn assert_role_matrix(routes: &[MatrixRoute<'_>], tokens: [&str; 4]) {
    for (method, url, body, allowed) in routes {
        let (anon, _) = call(method, url, None, body.clone()).await;
        assert_eq!(anon, 401, "{method} {url} without a credential");
        let (bad, _) = call(method, url, Some("cspg_not-a-token"), body.clone()).await;
        assert_eq!(bad, 401, "{method} {url} with a wrong token");
        for (i, t) in tokens.iter().enumerate() {
            let (status, v) = call(method, url, Some(t), body.clone()).await;
            if allowed[i] {
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "{method} {url} as role #{i}: {status} {v}"
                );
            } else {
                assert_eq!(status, 403, "{method} {url} as role #{i}: {v}");
            }
        }
    }
}

/// A small book: 40 customers over 45 days (seed 2: one incident of each kind), simulated into `dir/book`.
pub fn small_book(dir: &Path) -> PathBuf {
    let book = dir.join("book");
    ok(
        &dir.join("sim"),
        &[
            "simulate",
            "--customers",
            "40",
            "--days",
            "45",
            "--seed",
            "2",
            "--out",
            book.to_str().unwrap(),
        ],
        None,
    );
    book
}

//! [`SmtpStandIn`]: a minimal SMTP server that records the mails it receives.
//!
//! Hand-written on a tokio `TcpListener` because no maintained crate offers an in-process SMTP test server; it
//! speaks just what a client like lettre needs without TLS: EHLO/HELO, AUTH PLAIN/LOGIN (any credentials
//! accepted, noted), MAIL FROM, RCPT TO, DATA (dot-unstuffed), RSET, NOOP, QUIT.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One mail as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (MAIL FROM).
    pub from: String,
    /// The envelope recipients (RCPT TO).
    pub to: Vec<String>,
    /// The message (headers and body) as sent after DATA, dot-unstuffed, CRLF line ends.
    pub data: String,
    /// Whether the client authenticated (AUTH) first.
    pub authenticated: bool,
}

impl ReceivedMail {
    /// A header's value (name case-insensitive, folded lines unfolded), from the message's header section.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = found.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.trim().eq_ignore_ascii_case(name) {
                    found = Some(v.trim().to_string());
                }
            }
        }
        found
    }
}

type Mails = Arc<Mutex<Vec<ReceivedMail>>>;

/// The SMTP stand-in; stops when dropped.
#[derive(Debug)]
pub struct SmtpStandIn {
    addr: SocketAddr,
    mails: Mails,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpStandIn {
    /// Starts listening on `127.0.0.1:0`. Panics if it cannot bind (a test-environment failure).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let mails = Mails::default();
        let shared = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let mails = shared.clone();
                tokio::spawn(async move {
                    let _ = session(stream, mails).await;
                });
            }
        });
        SmtpStandIn { addr, mails, task }
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The mails received so far.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

async fn session(stream: TcpStream, mails: Mails) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = Vec::new();
    let mut next_line = async |lines: &mut BufReader<_>| -> std::io::Result<Option<String>> {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        Ok(Some(
            String::from_utf8_lossy(&line)
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ))
    };
    write.write_all(b"220 cspguard-standin ESMTP\r\n").await?;
    let (mut from, mut to, mut authenticated) = (String::new(), Vec::new(), false);
    while let Some(cmd) = next_line(&mut lines).await? {
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-cspguard-standin\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            if upper.trim() == "AUTH PLAIN" {
                write.write_all(b"334 \r\n").await?;
                next_line(&mut lines).await?;
            }
            authenticated = true;
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("AUTH LOGIN") {
            if upper.trim() == "AUTH LOGIN" {
                write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                next_line(&mut lines).await?;
            }
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            next_line(&mut lines).await?;
            authenticated = true;
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&cmd["MAIL FROM:".len()..]);
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&cmd["RCPT TO:".len()..]));
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            if to.is_empty() {
                b"503 5.5.1 RCPT first\r\n"
            } else {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    let Some(l) = next_line(&mut lines).await? else {
                        return Ok(());
                    };
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push_str("\r\n");
                }
                let mail = ReceivedMail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                    authenticated,
                };
                mails.lock().unwrap_or_else(|p| p.into_inner()).push(mail);
                b"250 2.0.0 OK queued\r\n"
            }
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// `<a@b> SIZE=1` → `a@b`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    let arg = arg.split_whitespace().next().unwrap_or_default();
    arg.trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

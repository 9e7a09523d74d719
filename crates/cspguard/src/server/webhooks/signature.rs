//! Partner Center's webhook signature ("Partner Center webhooks", "How to authenticate the callback").
//!
//! Each webhook carries `Authorization: Signature <base64>` (RSA PKCS#1 v1.5 over SHA-256 of the raw body),
//! `X-MS-Signature-Algorithm: rsa-sha256` and `X-MS-Certificate-Url` (Microsoft's notification certificate, e.g.
//! `https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer`). [`verify`]
//! checks the headers, downloads the certificate — only from an allow-listed prefix, no redirects, bounded in size
//! and time, cached by URL ([`CertCache`]) —, checks its validity window and subject, and verifies the signature of
//! the body bytes exactly as received with the certificate's public key (`ring`).
//!
//! No chain to a root is built: the published `.cer` is the leaf alone, and fetching its issuers (the AIA URLs)
//! would mean following URLs the certificate names, outside the allow-list. What authenticates the certificate is
//! the download itself — https (rustls, webpki roots) from Microsoft's pinned storage host and path — plus its
//! subject and validity window.
//!
//! A [`Refusal`] says why in words safe to log and audit: it never holds the signature, the token or the body.

use axum::http::HeaderMap;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant as WallClock};
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::spki::ObjectIdentifier;

/// Largest certificate download accepted (Microsoft's is ~2 KB).
pub const CERT_MAX_BYTES: usize = 16 * 1024;
/// Time allowed for the whole certificate download.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Certificates kept (by URL); the oldest goes first.
pub const CACHE_ENTRIES: usize = 16;
/// How long a downloaded certificate is reused before it is fetched again (so a rotated one is picked up).
pub const CACHE_TTL: Duration = Duration::from_secs(3600);

/// The headers, by name.
pub const AUTHORIZATION: &str = "authorization";
pub const CERTIFICATE_URL: &str = "x-ms-certificate-url";
pub const SIGNATURE_ALGORITHM: &str = "x-ms-signature-algorithm";

const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a webhook's signature was not accepted. The texts are safe to log, audit and answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("X-MS-Signature-Algorithm {0:?} is not rsa-sha256")]
    Algorithm(String),
    #[error("the Authorization header is not `Signature <base64>`")]
    SignatureEncoding,
    #[error("X-MS-Certificate-Url {0} is not an allowed certificate location")]
    CertificateUrl(String),
    #[error("the certificate could not be fetched: {0}")]
    Fetch(String),
    #[error("the certificate is not usable: {0}")]
    Certificate(String),
    #[error("the certificate is not valid now (valid from {from} to {to})")]
    Validity {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error("the certificate's subject ({0}) is not the expected {1}")]
    Subject(String, String),
    #[error("the signature does not match the body")]
    Signature,
}

/// An allowed certificate location: scheme, host, port and path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPrefix {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

impl UrlPrefix {
    /// Reads `https://HOST[:PORT]/PATH/` (`http` only for a loopback address).
    pub fn parse(s: &str) -> Result<UrlPrefix, String> {
        let u = url::Url::parse(s).map_err(|e| e.to_string())?;
        let host = u.host_str().ok_or("no host")?.to_ascii_lowercase();
        match u.scheme() {
            "https" => {}
            "http" if is_loopback(&u) => {}
            "http" => return Err("plain http is allowed for a loopback address only".into()),
            other => return Err(format!("scheme {other} is not https")),
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err("no user or password in the URL".into());
        }
        if u.query().is_some() || u.fragment().is_some() {
            return Err("no query or fragment".into());
        }
        Ok(UrlPrefix {
            scheme: u.scheme().to_string(),
            host,
            port: u.port_or_known_default(),
            path: u.path().to_string(),
        })
    }

    fn admits(&self, u: &url::Url) -> bool {
        u.scheme() == self.scheme
            && u.host_str().map(str::to_ascii_lowercase).as_deref() == Some(self.host.as_str())
            && u.port_or_known_default() == self.port
            && u.path().starts_with(&self.path)
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        _ => false,
    }
}

/// Whether `X-MS-Certificate-Url` may be fetched: one of `prefixes`, a `.cer` file, no user, query or fragment.
pub fn allowed_url(raw: &str, prefixes: &[UrlPrefix]) -> Result<url::Url, Refusal> {
    let shown = || {
        // Enough to recognise it, never a whole attacker-chosen string.
        let s: String = raw.chars().take(120).collect();
        format!("{s:?}")
    };
    let u = url::Url::parse(raw).map_err(|_| Refusal::CertificateUrl(shown()))?;
    let ok = u.username().is_empty()
        && u.password().is_none()
        && u.query().is_none()
        && u.fragment().is_none()
        && u.path().to_ascii_lowercase().ends_with(".cer")
        && prefixes.iter().any(|p| p.admits(&u));
    if ok {
        Ok(u)
    } else {
        Err(Refusal::CertificateUrl(shown()))
    }
}

/// The signature headers, read.
#[derive(Debug)]
pub struct SignedHeaders {
    pub signature: Vec<u8>,
    pub certificate_url: String,
}

/// Reads and checks the three headers (all present, the algorithm rsa-sha256, the signature base64).
pub fn read_headers(h: &HeaderMap) -> Result<SignedHeaders, Refusal> {
    let get = |name: &'static str, shown: &'static str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(Refusal::MissingHeader(shown))
    };
    let auth = get(AUTHORIZATION, "Authorization")?;
    let url = get(CERTIFICATE_URL, "X-MS-Certificate-Url")?;
    let alg = get(SIGNATURE_ALGORITHM, "X-MS-Signature-Algorithm")?;
    if !alg.eq_ignore_ascii_case("rsa-sha256") {
        return Err(Refusal::Algorithm(alg.chars().take(40).collect()));
    }
    let (scheme, b64) = auth.split_once(' ').ok_or(Refusal::SignatureEncoding)?;
    if !scheme.eq_ignore_ascii_case("Signature") {
        return Err(Refusal::SignatureEncoding);
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| Refusal::SignatureEncoding)?;
    Ok(SignedHeaders {
        signature,
        certificate_url: url.to_string(),
    })
}

/// What cspguard needs of a certificate.
#[derive(Debug, Clone)]
pub struct Cert {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub common_names: Vec<String>,
    pub organizations: Vec<String>,
    /// The RSAPublicKey DER (the SubjectPublicKeyInfo's bit string).
    rsa_public_key: Vec<u8>,
}

impl Cert {
    /// Reads a certificate as DER or PEM (or bare base64); with several PEM blocks, the first (the leaf).
    pub fn parse(bytes: &[u8]) -> Result<Cert, Refusal> {
        let der = to_der(bytes)?;
        let c = x509_cert::Certificate::from_der(&der)
            .map_err(|e| Refusal::Certificate(format!("not X.509 DER: {e}")))?;
        let tbs = &c.tbs_certificate;
        let when = |t: &x509_cert::time::Time| {
            let d = t.to_unix_duration();
            DateTime::<Utc>::from_timestamp(d.as_secs() as i64, 0)
                .ok_or_else(|| Refusal::Certificate("validity out of range".into()))
        };
        let mut common_names = Vec::new();
        let mut organizations = Vec::new();
        for rdn in tbs.subject.0.iter() {
            for atv in rdn.0.iter() {
                let text = match atv.value.tag() {
                    Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
                        std::str::from_utf8(atv.value.value())
                            .ok()
                            .map(str::to_string)
                    }
                    _ => None,
                };
                match (atv.oid, text) {
                    (OID_COMMON_NAME, Some(t)) => common_names.push(t),
                    (OID_ORGANIZATION, Some(t)) => organizations.push(t),
                    _ => {}
                }
            }
        }
        let spki = &tbs.subject_public_key_info;
        if spki.algorithm.oid != OID_RSA_ENCRYPTION {
            return Err(Refusal::Certificate(format!(
                "its key is {}, not RSA",
                spki.algorithm.oid
            )));
        }
        let rsa_public_key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Refusal::Certificate("malformed public key".into()))?
            .to_vec();
        Ok(Cert {
            not_before: when(&tbs.validity.not_before)?,
            not_after: when(&tbs.validity.not_after)?,
            common_names,
            organizations,
            rsa_public_key,
        })
    }

    /// Valid at `now`, and the subject expected (CN, and O when one is asked for; ASCII case-insensitive).
    pub fn check(
        &self,
        now: DateTime<Utc>,
        common_name: &str,
        organization: Option<&str>,
    ) -> Result<(), Refusal> {
        if now < self.not_before || now > self.not_after {
            return Err(Refusal::Validity {
                from: self.not_before,
                to: self.not_after,
            });
        }
        let has = |names: &[String], want: &str| names.iter().any(|n| n.eq_ignore_ascii_case(want));
        let subject = || {
            format!(
                "CN={} O={}",
                self.common_names.join(","),
                self.organizations.join(",")
            )
        };
        if !has(&self.common_names, common_name) {
            return Err(Refusal::Subject(subject(), format!("CN={common_name}")));
        }
        if let Some(o) = organization {
            if !has(&self.organizations, o) {
                return Err(Refusal::Subject(subject(), format!("O={o}")));
            }
        }
        Ok(())
    }

    /// Verifies an RSA PKCS#1 v1.5 SHA-256 signature of `body` (keys of 2048 to 8192 bits).
    pub fn verify(&self, body: &[u8], signature: &[u8]) -> Result<(), Refusal> {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.rsa_public_key,
        )
        .verify(body, signature)
        .map_err(|_| Refusal::Signature)
    }
}

fn to_der(bytes: &[u8]) -> Result<Vec<u8>, Refusal> {
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Refusal::Certificate("neither DER nor PEM".into()))?;
    let body = match text.find("-----BEGIN CERTIFICATE-----") {
        Some(i) => {
            let rest = &text[i + "-----BEGIN CERTIFICATE-----".len()..];
            let end = rest
                .find("-----END CERTIFICATE-----")
                .ok_or_else(|| Refusal::Certificate("PEM without its END line".into()))?;
            &rest[..end]
        }
        None => text,
    };
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| Refusal::Certificate("neither DER nor PEM".into()))
}

struct Entry {
    url: String,
    fetched: WallClock,
    cert: Arc<Cert>,
}

/// Downloaded certificates by URL: at most [`CACHE_ENTRIES`], each reused for [`CACHE_TTL`]. One download at a time,
/// so a burst of webhooks naming the same certificate fetches it once.
pub struct CertCache {
    client: reqwest::Client,
    entries: tokio::sync::Mutex<Vec<Entry>>,
}

impl CertCache {
    pub fn new() -> anyhow::Result<CertCache> {
        CertCache::with_timeout(FETCH_TIMEOUT)
    }

    /// With another time limit per download (tests).
    pub fn with_timeout(timeout: Duration) -> anyhow::Result<CertCache> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent("cspguard-webhook-receiver")
            .build()?;
        Ok(CertCache {
            client,
            entries: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    /// The certificate at `url` (already allowed), from the cache or downloaded.
    pub async fn get(&self, url: &url::Url) -> Result<Arc<Cert>, Refusal> {
        let mut entries = self.entries.lock().await;
        entries.retain(|e| e.fetched.elapsed() < CACHE_TTL);
        if let Some(e) = entries.iter().find(|e| e.url == url.as_str()) {
            return Ok(e.cert.clone());
        }
        let cert = Arc::new(Cert::parse(&self.download(url).await?)?);
        if entries.len() >= CACHE_ENTRIES {
            entries.remove(0); // the oldest: entries are pushed in fetch order
        }
        entries.push(Entry {
            url: url.as_str().to_string(),
            fetched: WallClock::now(),
            cert: cert.clone(),
        });
        Ok(cert)
    }

    async fn download(&self, url: &url::Url) -> Result<Vec<u8>, Refusal> {
        let fail = |e: String| Refusal::Fetch(format!("{}: {e}", url.host_str().unwrap_or("?")));
        let mut resp = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| fail(without_url(&e)))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(fail(format!(
                "answered {status}; redirects are not followed"
            )));
        }
        if !status.is_success() {
            return Err(fail(format!("answered {status}")));
        }
        if resp.content_length().unwrap_or(0) > CERT_MAX_BYTES as u64 {
            return Err(fail(format!("larger than {CERT_MAX_BYTES} bytes")));
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(without_url(&e)))? {
            if buf.len() + chunk.len() > CERT_MAX_BYTES {
                return Err(fail(format!("larger than {CERT_MAX_BYTES} bytes")));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    let mut s = what.to_string();
    if let Some(src) = std::error::Error::source(e) {
        s.push_str(&format!(" ({src})"));
    }
    s
}

/// What the receiver checks a signature against (from `[webhooks]`).
pub struct Policy<'a> {
    pub prefixes: &'a [UrlPrefix],
    pub common_name: &'a str,
    pub organization: Option<&'a str>,
}

/// The whole check, in Microsoft's order: headers, certificate location, certificate (cached), its validity and
/// subject, then the signature of `body` as received.
pub async fn verify(
    cache: &CertCache,
    policy: &Policy<'_>,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let h = read_headers(headers)?;
    let url = allowed_url(&h.certificate_url, policy.prefixes)?;
    let cert = cache.get(&url).await?;
    cert.check(now, policy.common_name, policy.organization)?;
    cert.verify(body, &h.signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cspguard_standins::signing;

    const MS: &str = "pcnotifications-dispatch.microsoft.com";

    fn prefixes() -> Vec<UrlPrefix> {
        vec![UrlPrefix::parse("https://3psostorageacct.blob.core.windows.net/cert/").unwrap()]
    }

    #[test]
    fn only_allowed_certificate_locations_pass() {
        let p = prefixes();
        let ok = "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer";
        assert!(allowed_url(ok, &p).is_ok());
        for bad in [
            "http://3psostorageacct.blob.core.windows.net/cert/x.cer",
            "https://3psostorageacct.blob.core.windows.net.evil.example/cert/x.cer",
            "https://evil.example/cert/x.cer",
            "https://3psostorageacct.blob.core.windows.net:8443/cert/x.cer",
            "https://3psostorageacct.blob.core.windows.net/other/x.cer",
            "https://3psostorageacct.blob.core.windows.net/cert/../other/x.cer",
            "https://3psostorageacct.blob.core.windows.net/cert/x.pem",
            "https://3psostorageacct.blob.core.windows.net/cert/x.cer?sig=1",
            "https://user@3psostorageacct.blob.core.windows.net/cert/x.cer",
            "not a url",
        ] {
            assert!(
                matches!(allowed_url(bad, &p), Err(Refusal::CertificateUrl(_))),
                "{bad}"
            );
        }
        assert!(UrlPrefix::parse("http://example.com/cert/").is_err());
        assert!(UrlPrefix::parse("http://127.0.0.1:8080/cert/").is_ok());
        assert!(UrlPrefix::parse("ftp://example.com/cert/").is_err());
    }

    #[test]
    fn headers_are_all_required_and_only_rsa_sha256() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, "Signature AQID".parse().unwrap());
        h.insert(CERTIFICATE_URL, "https://h/cert/x.cer".parse().unwrap());
        h.insert(SIGNATURE_ALGORITHM, "rsa-sha256".parse().unwrap());
        assert_eq!(read_headers(&h).unwrap().signature, vec![1, 2, 3]);
        for name in [AUTHORIZATION, CERTIFICATE_URL, SIGNATURE_ALGORITHM] {
            let mut m = h.clone();
            m.remove(name);
            assert!(
                matches!(read_headers(&m), Err(Refusal::MissingHeader(_))),
                "{name}"
            );
        }
        let mut m = h.clone();
        m.insert(SIGNATURE_ALGORITHM, "rsa-sha1".parse().unwrap());
        assert_eq!(
            read_headers(&m).unwrap_err(),
            Refusal::Algorithm("rsa-sha1".into())
        );
        for bad in ["Bearer AQID", "Signature !!!", "SignatureAQID"] {
            let mut m = h.clone();
            m.insert(AUTHORIZATION, bad.parse().unwrap());
            assert_eq!(
                read_headers(&m).unwrap_err(),
                Refusal::SignatureEncoding,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let now = Utc::now();
        let body = br#"{"EventName":"subscription-updated"}"#;
        let sig = signing::sign(body);
        for cert in [
            Cert::parse(signing::CERT_PEM.as_bytes()).unwrap(),
            Cert::parse(&signing::der(signing::CERT_PEM)).unwrap(),
        ] {
            cert.check(now, MS, Some("Microsoft Corporation")).unwrap();
            cert.check(now, &MS.to_ascii_uppercase(), None).unwrap();
            cert.verify(body, &sig).unwrap();
            let mut changed = body.to_vec();
            changed[3] ^= 1;
            assert_eq!(cert.verify(&changed, &sig), Err(Refusal::Signature));
            assert_eq!(cert.verify(body, &sig[1..]), Err(Refusal::Signature));
        }
    }

    #[test]
    fn expired_or_foreign_certificates_are_refused() {
        let now = Utc::now();
        let expired = Cert::parse(signing::EXPIRED_PEM.as_bytes()).unwrap();
        assert!(matches!(
            expired.check(now, MS, None),
            Err(Refusal::Validity { .. })
        ));
        let other = Cert::parse(signing::WRONG_SUBJECT_PEM.as_bytes()).unwrap();
        assert!(matches!(
            other.check(now, MS, None),
            Err(Refusal::Subject(..))
        ));
        let ours = Cert::parse(signing::CERT_PEM.as_bytes()).unwrap();
        assert!(matches!(
            ours.check(now, MS, Some("Contoso")),
            Err(Refusal::Subject(..))
        ));
        assert!(Cert::parse(b"garbage").is_err());
        assert!(Cert::parse(&[0x30, 0x03, 0x01, 0x01, 0x00]).is_err());
    }

    #[tokio::test]
    async fn downloads_are_cached_bounded_and_never_redirected() {
        use axum::routing::get;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let good = signing::der(signing::CERT_PEM);
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new()
            .route(
                "/cert/{name}",
                get(move || {
                    counter.fetch_add(1, SeqCst);
                    let der = good.clone();
                    async move { der }
                }),
            )
            .route(
                "/cert/moved.cer",
                get(|| async { axum::response::Redirect::temporary("/cert/good.cer") }),
            )
            .route(
                "/cert/huge.cer",
                get(|| async { vec![0x30u8; CERT_MAX_BYTES + 1] }),
            )
            .route(
                "/cert/slow.cer",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    "late"
                }),
            )
            .route(
                "/cert/missing.cer",
                get(|| async { axum::http::StatusCode::NOT_FOUND }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let prefixes = vec![UrlPrefix::parse(&format!("{base}/cert/")).unwrap()];
        let cache = CertCache::with_timeout(Duration::from_millis(500)).unwrap();
        let url = |name: &str| allowed_url(&format!("{base}/cert/{name}"), &prefixes).unwrap();

        for _ in 0..3 {
            cache.get(&url("good.cer")).await.unwrap();
        }
        assert_eq!(hits.load(SeqCst), 1, "fetched once");
        for (name, says) in [
            ("moved.cer", "redirects are not followed"),
            ("huge.cer", "larger than"),
            ("slow.cer", "timed out"),
            ("missing.cer", "404"),
        ] {
            match cache.get(&url(name)).await {
                Err(Refusal::Fetch(e)) => assert!(e.contains(says), "{name}: {e}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(hits.load(SeqCst), 1, "the redirect was not followed");
        // Bounded: one more certificate than the cache holds pushes the oldest (good.cer) out.
        for i in 1..=CACHE_ENTRIES {
            cache.get(&url(&format!("c{i}.cer"))).await.unwrap();
        }
        assert_eq!(hits.load(SeqCst), 1 + CACHE_ENTRIES);
        cache
            .get(&url(&format!("c{CACHE_ENTRIES}.cer")))
            .await
            .unwrap();
        assert_eq!(hits.load(SeqCst), 1 + CACHE_ENTRIES, "the newest is kept");
        cache.get(&url("good.cer")).await.unwrap();
        assert_eq!(
            hits.load(SeqCst),
            2 + CACHE_ENTRIES,
            "the oldest was dropped"
        );
        assert!(cache.entries.lock().await.len() <= CACHE_ENTRIES);
    }
}

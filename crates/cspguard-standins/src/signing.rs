//! Partner Center's webhook signature, test side: a fixture RSA key and certificates (`fixtures/webhook/`, made once
//! with OpenSSL by `fixtures/webhook/generate.sh`; test-only, not Microsoft's), and the signing Partner Center does —
//! RSA PKCS#1 v1.5 over SHA-256 of the body, sent as `Authorization: Signature <base64>` with
//! `X-MS-Signature-Algorithm: rsa-sha256` and `X-MS-Certificate-Url`.

use base64::Engine as _;

/// The signing key (RSA 2048, PKCS#8 PEM).
pub const KEY_PEM: &str = include_str!("../fixtures/webhook/key.pem");
/// Self-signed, CN=pcnotifications-dispatch.microsoft.com, O=Microsoft Corporation, valid for 100 years.
pub const CERT_PEM: &str = include_str!("../fixtures/webhook/cert.pem");
/// The same subject and key, valid in 2020 only.
pub const EXPIRED_PEM: &str = include_str!("../fixtures/webhook/expired.pem");
/// The same key, CN=pcnotifications-dispatch.example.com, O=Not Microsoft.
pub const WRONG_SUBJECT_PEM: &str = include_str!("../fixtures/webhook/wrong-subject.pem");

/// The DER inside a one-block PEM text.
pub fn der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("fixture PEM is base64")
}

/// The RSA PKCS#1 v1.5 SHA-256 signature of `body` with [`KEY_PEM`].
pub fn sign(body: &[u8]) -> Vec<u8> {
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der(KEY_PEM)).expect("fixture key");
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        body,
        &mut sig,
    )
    .expect("signing");
    sig
}

/// The three headers Partner Center sends with `body`, its certificate at `certificate_url`.
pub fn headers(body: &[u8], certificate_url: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "Authorization",
            format!(
                "Signature {}",
                base64::engine::general_purpose::STANDARD.encode(sign(body))
            ),
        ),
        ("X-MS-Certificate-Url", certificate_url.to_string()),
        ("X-MS-Signature-Algorithm", "rsa-sha256".to_string()),
    ]
}

//! Start-up of the TLS listener: the rustls [`ServerConfig`] `[tls]` asks
//! for.
//!
//! Job: load the certificate chains and keys (or generate a self-signed
//! certificate when `cert`/`key` are absent), and fix the protocol choices.
//!
//! Contract:
//! - TLS 1.3 and 1.2, ECDHE key exchange only (X25519, P-256, P-384; every
//!   TLS 1.2 suite rustls has is ECDHE with AEAD), the `ring` provider.
//! - ALPN `h2` then `http/1.1` (RFC 7301; the server's order wins only
//!   among what the client offers).
//! - Resumption: stateless tickets (RFC 8446 §4.6.1; rotating ticket keys)
//!   and a bounded session-ID cache for TLS 1.2.
//! - SNI: a `[[tls.sni]]` name picks its certificate; any other name, or
//!   none, gets the default one.
//! - Errors are strings naming the file, for the start-up message. This is
//!   the only module that reads key files; it runs once, before the loop.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tracing::info;

use crate::config::TlsKeys;

/// Session-ID cache entries (TLS 1.2 resumption without tickets).
const SESSION_CACHE: usize = 4096;

/// Builds the server configuration. `addr` names the generated
/// certificate (with `localhost`) when `[tls]` gives none.
pub fn server_config(keys: &TlsKeys, addr: Ipv4Addr) -> Result<Arc<ServerConfig>, String> {
    let default = match &keys.cert_key {
        Some((cert, key)) => load(cert, key)?,
        None => {
            let ck = self_signed(addr)?;
            info!(%addr, names = "localhost", "generated a self-signed TLS certificate");
            ck
        }
    };
    let mut by_name = HashMap::new();
    for e in &keys.sni {
        by_name.insert(e.name.clone(), load(&e.cert, &e.key)?);
    }
    config_with(Arc::new(Certs { default, by_name }))
}

/// The configuration around a certificate resolver (also used by tests).
pub fn config_with(resolver: Arc<dyn ResolvesServerCert>) -> Result<Arc<ServerConfig>, String> {
    let mut provider = provider::default_provider();
    provider.kx_groups = vec![
        provider::kx_group::X25519,
        provider::kx_group::SECP256R1,
        provider::kx_group::SECP384R1,
    ];
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = provider::Ticketer::new().map_err(|e| format!("TLS tickets: {e}"))?;
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
    // TLS 1.3 stateless tickets: a few per handshake, as browsers open
    // parallel connections.
    config.send_tls13_tickets = 2;
    Ok(Arc::new(config))
}

/// A single-certificate configuration from DER (for tests).
pub fn config_for(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, String> {
    let ck = certified(vec![cert], key)?;
    config_with(Arc::new(Certs {
        default: ck,
        by_name: HashMap::new(),
    }))
}

/// A self-signed certificate for `addr` and `localhost` (rcgen), with its
/// DER key.
pub fn generate(
    addr: Ipv4Addr,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), String> {
    let ck = rcgen::generate_simple_self_signed(vec![addr.to_string(), "localhost".to_owned()])
        .map_err(|e| format!("generating a self-signed certificate: {e}"))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    Ok((ck.cert.der().clone(), key))
}

fn self_signed(addr: Ipv4Addr) -> Result<Arc<CertifiedKey>, String> {
    let (cert, key) = generate(addr)?;
    certified(vec![cert], key)
}

fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let chain = rustls_pemfile::certs(&mut &read(cert)?[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no PEM certificate", cert.display()));
    }
    let key_der = rustls_pemfile::private_key(&mut &read(key)?[..])
        .map_err(|e| format!("{}: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no PEM private key", key.display()))?;
    certified(chain, key_der).map_err(|e| format!("{} with {}: {e}", cert.display(), key.display()))
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, String> {
    let signing = provider::sign::any_supported_type(&key).map_err(|e| format!("key: {e}"))?;
    let ck = CertifiedKey::new(chain, signing);
    // A key that does not belong to the certificate fails every handshake;
    // say so at start-up instead.
    match ck.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => return Err(format!("certificate and key do not match: {e}")),
    }
    Ok(Arc::new(ck))
}

/// Picks a certificate by SNI (RFC 6066 §3).
#[derive(Debug)]
struct Certs {
    default: Arc<CertifiedKey>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let named = hello
            .server_name()
            .and_then(|n| self.by_name.get(&n.to_ascii_lowercase()));
        Some(named.unwrap_or(&self.default).clone())
    }
}

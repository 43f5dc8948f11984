//! A real HTTPS server on 127.0.0.1 playing the gateway and the apps behind
//! it: a test CA issues a wildcard certificate for the CI domain at test time,
//! the server picks a certificate by SNI and answers by Host, like Traefik.
//! A domain without a router gets Traefik's fallback 404; a site can be told
//! to present Traefik's self-signed default certificate instead.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// How the gateway treats one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Router {
    /// A router exists: the app answers.
    App,
    /// No router matches (a broken Host rule): Traefik's fallback 404.
    Fallback404,
    /// The certificate store has nothing for the domain: Traefik's default certificate.
    DefaultCert,
}

/// One app behind the gateway.
#[derive(Debug, Clone)]
pub struct Site {
    pub router: Router,
    /// Files served under `/` (nginx-like), e.g. a volume's html directory.
    pub docroot: Option<PathBuf>,
    /// Fixed answers by path, checked before the docroot.
    pub routes: HashMap<String, (u16, String)>,
}

impl Site {
    pub fn app() -> Self {
        let mut routes = HashMap::new();
        routes.insert(
            "/".to_owned(),
            (
                200,
                "<html><body>Welcome to the app</body></html>".to_owned(),
            ),
        );
        Site {
            router: Router::App,
            docroot: None,
            routes,
        }
    }
}

#[derive(Debug)]
struct Resolver {
    wildcard: Arc<CertifiedKey>,
    traefik_default: Arc<CertifiedKey>,
    sites: Arc<Mutex<HashMap<String, Site>>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().unwrap_or("").to_owned();
        let default = self
            .sites
            .lock()
            .unwrap()
            .get(&name)
            .is_some_and(|s| s.router == Router::DefaultCert);
        Some(if default {
            self.traefik_default.clone()
        } else {
            self.wildcard.clone()
        })
    }
}

/// Answers for domains that have no fixed [`Site`]: `None` means no router
/// matched (Traefik's fallback 404).
pub type Backend = Arc<dyn Fn(&str, &str) -> Option<(u16, String)> + Send + Sync>;

/// The running gateway.
pub struct HttpsGateway {
    pub addr: SocketAddr,
    pub ca_pem: String,
    sites: Arc<Mutex<HashMap<String, Site>>>,
    /// Every (host, path) requested, in order.
    pub requests: Arc<Mutex<Vec<(String, String)>>>,
}

fn certified(
    provider: &rustls::crypto::CryptoProvider,
    cert: CertificateDer<'static>,
    key: &rcgen::KeyPair,
) -> Arc<CertifiedKey> {
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = provider.key_provider.load_private_key(der).unwrap();
    Arc::new(CertifiedKey::new(vec![cert], signing))
}

impl HttpsGateway {
    /// Start a gateway for `*.<ci_domain>`.
    pub fn start(ci_domain: &str) -> Self {
        Self::start_with_backend(ci_domain, None)
    }

    /// A gateway that asks `backend` about every domain without a fixed site.
    pub fn start_with_backend(ci_domain: &str, backend: Option<Backend>) -> Self {
        let provider = rustls::crypto::ring::default_provider();
        // The test CA and the wildcard certificate it signs.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ccci test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec![format!("*.{ci_domain}")]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        // Traefik's own: self-signed, CN "TRAEFIK DEFAULT CERT".
        let t_key = rcgen::KeyPair::generate().unwrap();
        let mut t_params =
            rcgen::CertificateParams::new(vec!["traefik.default".to_owned()]).unwrap();
        t_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "TRAEFIK DEFAULT CERT");
        let t_cert = t_params.self_signed(&t_key).unwrap();

        let sites: Arc<Mutex<HashMap<String, Site>>> = Arc::default();
        let resolver = Resolver {
            wildcard: certified(&provider, leaf.der().clone(), &leaf_key),
            traefik_default: certified(&provider, t_cert.der().clone(), &t_key),
            sites: sites.clone(),
        };
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let (s2, r2) = (sites.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (config, sites, requests) = (config.clone(), s2.clone(), r2.clone());
                let backend = backend.clone();
                std::thread::spawn(move || serve(stream, config, sites, requests, backend));
            }
        });
        HttpsGateway {
            addr,
            ca_pem: ca.pem(),
            sites,
            requests,
        }
    }

    pub fn set_site(&self, domain: &str, site: Site) {
        self.sites.lock().unwrap().insert(domain.to_owned(), site);
    }

    pub fn remove_site(&self, domain: &str) {
        self.sites.lock().unwrap().remove(domain);
    }

    pub fn site(&self, domain: &str) -> Option<Site> {
        self.sites.lock().unwrap().get(domain).cloned()
    }
}

fn serve(
    stream: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    sites: Arc<Mutex<HashMap<String, Site>>>,
    requests: Arc<Mutex<Vec<(String, String)>>>,
    backend: Option<Backend>,
) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut reader = BufReader::new(&mut tls);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let mut host = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("host")
        {
            host = v.trim().split(':').next().unwrap_or("").to_owned();
        }
    }
    drop(reader);
    requests.lock().unwrap().push((host.clone(), path.clone()));
    let site = sites.lock().unwrap().get(&host).cloned();
    // Traefik's fallback is Go's plain 404: no header of an app.
    let fallback = (
        404,
        "404 page not found\n".to_owned(),
        "content-type: text/plain; charset=utf-8\r\nx-content-type-options: nosniff\r\n",
    );
    let app_headers = "content-type: text/plain\r\nserver: test-app\r\n";
    let (status, body, headers) = match site {
        Some(site) if site.router == Router::App => {
            let (s, b) = answer(&site, &path);
            (s, b, app_headers)
        }
        Some(_) => fallback,
        None => match backend.and_then(|b| b(&host, &path)) {
            Some((s, b)) => (s, b, app_headers),
            None => fallback,
        },
    };
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\n{headers}connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(response.as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn answer(site: &Site, path: &str) -> (u16, String) {
    if let Some((s, b)) = site.routes.get(path) {
        return (*s, b.clone());
    }
    if let Some(root) = &site.docroot {
        let rel = path.trim_start_matches('/');
        if !rel.contains("..")
            && !rel.is_empty()
            && let Ok(body) = std::fs::read_to_string(root.join(rel))
        {
            return (200, body);
        }
    }
    (
        404,
        "<html><body>app: no such page</body></html>".to_owned(),
    )
}

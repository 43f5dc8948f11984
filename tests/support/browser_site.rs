//! A real HTTPS site for a real browser: a test CA issues a wildcard
//! certificate for the CI domain, and the server answers HTML — a landing
//! page that paints late, a login form checked against a password the test
//! sets, and a page that never answers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct BrowserSite {
    pub addr: SocketAddr,
    pub ca_pem: String,
    /// The password `/session` accepts.
    pub password: Arc<Mutex<String>>,
}

/// The landing page: white until a script paints it 600 ms after load.
pub const LANDING: &str = r#"<!doctype html><html><head><title>Landing</title></head>
<body style="margin:0;background:#fff"><script>
setTimeout(function () {
  document.body.innerHTML = '<div style="background:#2050c0;color:#fff;height:300px;font:40px sans-serif">Welcome to the app</div>';
}, 600);
</script></body></html>"#;

pub const LOGIN: &str = r#"<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
<form method="post" action="/session">
<input id="username" name="username"><input id="password" name="password" type="password">
<button id="kc-login" type="submit">Sign in</button>
</form></body></html>"#;

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body><h1 id=\"head\">{text}</h1></body></html>"
    )
}

impl BrowserSite {
    pub fn start(ci_domain: &str) -> Self {
        let provider = rustls::crypto::ring::default_provider();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ccci browser test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec![format!("*.{ci_domain}")]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(leaf.der().to_vec())], key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let password: Arc<Mutex<String>> = Arc::default();
        let pw = password.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (config, pw) = (config.clone(), pw.clone());
                std::thread::spawn(move || serve(stream, config, pw));
            }
        });
        BrowserSite {
            addr,
            ca_pem: ca.pem(),
            password,
        }
    }
}

fn form_value(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%'
                    && i + 2 < b.len()
                    && let Ok(x) = u8::from_str_radix(&v[i + 1..i + 3], 16)
                {
                    out.push(x);
                    i += 3;
                    continue;
                }
                out.push(b[i]);
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}

fn serve(stream: std::net::TcpStream, config: Arc<rustls::ServerConfig>, pw: Arc<Mutex<String>>) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut reader = BufReader::new(&mut tls);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let path = words.next().unwrap_or("/").to_owned();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    drop(reader);
    let body = String::from_utf8_lossy(&body).into_owned();
    let (status, html) = match (method.as_str(), path.as_str()) {
        (_, "/hang") => {
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        ("GET", "/") => (200, LANDING.to_owned()),
        ("GET", "/login") => (200, LOGIN.to_owned()),
        ("POST", "/session") => {
            let right = pw.lock().unwrap().clone();
            if !right.is_empty() && form_value(&body, "password").as_deref() == Some(right.as_str())
            {
                (200, page("Admin console", "Welcome to the admin console"))
            } else {
                (200, page("Sign in", "Invalid username or password."))
            }
        }
        _ => (404, page("Not found", "no such page")),
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: text/html; charset=utf-8\r\nconnection: close\r\n\r\n{html}",
        html.len()
    );
    let _ = tls.write_all(response.as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

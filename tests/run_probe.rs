//! The HTTPS probe against a real TLS server with a test CA: SNI is kept while
//! the connection is pinned to 127.0.0.1, and the false greens of a gateway
//! (fallback 404, default certificate) are refused.

#[path = "support/https_app.rs"]
mod https_app;

use std::time::Duration;

use ccci::registry::HttpCheck;
use ccci::run::probe::{self, AppProbe, ProbeConfig, ProbeFailure};
use https_app::{HttpsGateway, Router, Site};

const CI: &str = "ci.example.org";

fn probe_for(gw: &HttpsGateway, domain: &str) -> AppProbe {
    let config = ProbeConfig {
        connect: gw.addr,
        extra_ca_pem: Some(gw.ca_pem.clone().into_bytes()),
        request_timeout: Duration::from_secs(5),
    };
    AppProbe::new(&config, domain).unwrap()
}

fn check(json: &str) -> HttpCheck {
    serde_json::from_str(json).unwrap()
}

#[test]
fn floor_passes_for_a_routed_app_and_sni_reaches_the_server() {
    let gw = HttpsGateway::start(CI);
    gw.set_site("cust-000001.ci.example.org", Site::app());
    let p = probe_for(&gw, "cust-000001.ci.example.org");
    assert_eq!(probe::floor(&p), Ok("GET / → 200".to_owned()));
    assert_eq!(
        gw.requests.lock().unwrap()[0].0,
        "cust-000001.ci.example.org"
    );
}

#[test]
fn floor_accepts_redirects_without_following_them() {
    let gw = HttpsGateway::start(CI);
    let mut site = Site::app();
    site.routes.insert("/".into(), (302, String::new()));
    gw.set_site("cust-000002.ci.example.org", site);
    assert_eq!(
        probe::floor(&probe_for(&gw, "cust-000002.ci.example.org")),
        Ok("GET / → 302".to_owned())
    );
}

#[test]
fn traefik_fallback_404_is_not_healthy() {
    let gw = HttpsGateway::start(CI);
    let err = probe::floor(&probe_for(&gw, "cust-000003.ci.example.org")).unwrap_err();
    assert!(err.contains("Traefik's fallback 404"), "{err}");
}

#[test]
fn fallback_404_fails_even_a_health_path_that_accepts_404() {
    let gw = HttpsGateway::start(CI);
    let mut site = Site::app();
    site.router = Router::Fallback404;
    gw.set_site("cust-000004.ci.example.org", site);
    let health = serde_json::from_str(r#"{"path":"/","statuses":[200,404]}"#).unwrap();
    let err = probe::health(&probe_for(&gw, "cust-000004.ci.example.org"), &health).unwrap_err();
    assert!(err.contains("fallback"), "{err}");
}

#[test]
fn traefik_default_certificate_is_recognised() {
    let gw = HttpsGateway::start(CI);
    let mut site = Site::app();
    site.router = Router::DefaultCert;
    gw.set_site("cust-000005.ci.example.org", site);
    let p = probe_for(&gw, "cust-000005.ci.example.org");
    assert_eq!(p.get("/"), Err(ProbeFailure::TraefikDefaultCert));
    assert!(
        probe::floor(&p)
            .unwrap_err()
            .contains("default certificate")
    );
}

#[test]
fn an_untrusted_certificate_fails_without_the_test_ca() {
    let gw = HttpsGateway::start(CI);
    gw.set_site("cust-000006.ci.example.org", Site::app());
    let config = ProbeConfig {
        connect: gw.addr,
        extra_ca_pem: None,
        request_timeout: Duration::from_secs(5),
    };
    let p = AppProbe::new(&config, "cust-000006.ci.example.org").unwrap();
    assert!(
        matches!(p.get("/"), Err(ProbeFailure::Certificate(_))),
        "{:?}",
        p.get("/")
    );
}

#[test]
fn an_app_404_page_is_an_ordinary_status_failure() {
    let gw = HttpsGateway::start(CI);
    gw.set_site("cust-000007.ci.example.org", Site::app());
    let c = check(r#"{"name":"missing","path":"/nope","statuses":[200]}"#);
    let err = probe::http_check(&probe_for(&gw, "cust-000007.ci.example.org"), &c).unwrap_err();
    assert!(err.contains("status 404, expected one of 200"), "{err}");
    assert!(!err.contains("fallback"));
}

#[test]
fn http_check_body_contains_and_json_key() {
    let gw = HttpsGateway::start(CI);
    let mut site = Site::app();
    site.routes.insert(
        "/_matrix/client/versions".into(),
        (200, r#"{"versions":["v1.1"]}"#.into()),
    );
    gw.set_site("matr-000008.ci.example.org", site);
    let p = probe_for(&gw, "matr-000008.ci.example.org");
    let ok = check(
        r#"{"name":"versions","path":"/_matrix/client/versions","statuses":[200],"body_contains":"v1.1","json_key":"versions"}"#,
    );
    assert!(probe::http_check(&p, &ok).is_ok());
    let missing_key = check(
        r#"{"name":"v","path":"/_matrix/client/versions","statuses":[200],"json_key":"unstable_features"}"#,
    );
    assert!(
        probe::http_check(&p, &missing_key)
            .unwrap_err()
            .contains("no key")
    );
    let missing_text =
        check(r#"{"name":"w","path":"/","statuses":[200],"body_contains":"Keycloak"}"#);
    assert!(
        probe::http_check(&p, &missing_text)
            .unwrap_err()
            .contains("does not contain")
    );
}

#[test]
fn nothing_listening_is_a_transport_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = ProbeConfig {
        connect: addr,
        extra_ca_pem: None,
        request_timeout: Duration::from_secs(2),
    };
    let p = AppProbe::new(&config, "cust-000009.ci.example.org").unwrap();
    assert!(matches!(p.get("/"), Err(ProbeFailure::Transport(_))));
}

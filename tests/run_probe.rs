//! The HTTPS probe against a real TLS server with a test CA: SNI is kept while
//! the connection is pinned to 127.0.0.1, and the false greens of a gateway
//! (fallback 404, default certificate) are refused.

#[path = "support/https_app.rs"]
mod https_app;

use std::time::Duration;

use ccci::registry::{Health, HttpCheck};
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

fn health(json: &str) -> Health {
    serde_json::from_str(json).unwrap()
}

/// The registry's default: `/` answering 200, 301 or 302.
fn default_health() -> Health {
    health(r#"{"path":"/","statuses":[200,301,302]}"#)
}

#[test]
fn floor_passes_for_a_routed_app_and_sni_reaches_the_server() {
    let gw = HttpsGateway::start(CI);
    gw.set_site("cust-000001.ci.example.org", Site::app());
    let p = probe_for(&gw, "cust-000001.ci.example.org");
    assert_eq!(
        probe::floor(&p, &default_health()),
        Ok("GET / → 200".to_owned())
    );
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
        probe::floor(
            &probe_for(&gw, "cust-000002.ci.example.org"),
            &default_health()
        ),
        Ok("GET / → 302".to_owned())
    );
}

#[test]
fn traefik_fallback_404_is_not_healthy() {
    let gw = HttpsGateway::start(CI);
    let err = probe::floor(
        &probe_for(&gw, "cust-000003.ci.example.org"),
        &default_health(),
    )
    .unwrap_err();
    assert!(err.contains("Traefik's fallback 404"), "{err}");
}

#[test]
fn fallback_404_fails_even_a_health_path_that_accepts_404() {
    let gw = HttpsGateway::start(CI);
    let mut site = Site::app();
    site.router = Router::Fallback404;
    gw.set_site("cust-000004.ci.example.org", site);
    let health = health(r#"{"path":"/","statuses":[200,404]}"#);
    let err = probe::floor(&probe_for(&gw, "cust-000004.ci.example.org"), &health).unwrap_err();
    assert!(err.contains("fallback"), "{err}");
}

#[test]
fn the_floor_probes_the_health_path_with_its_statuses() {
    // An app whose `/` asks for a login by design: 401 is its healthy answer.
    let gw = HttpsGateway::start(CI);
    let mut site = Site::app();
    site.routes
        .insert("/".into(), (401, "login required".into()));
    site.routes.insert("/app/".into(), (200, "the app".into()));
    gw.set_site("cust-000010.ci.example.org", site);
    let p = probe_for(&gw, "cust-000010.ci.example.org");
    let err = probe::floor(&p, &default_health()).unwrap_err();
    assert!(
        err.contains("status 401, expected one of 200, 301, 302"),
        "{err}"
    );
    assert_eq!(
        probe::floor(&p, &health(r#"{"path":"/","statuses":[401]}"#)),
        Ok("GET / → 401".to_owned())
    );
    assert_eq!(
        probe::floor(&p, &health(r#"{"path":"/app/","statuses":[200]}"#)),
        Ok("GET /app/ → 200".to_owned())
    );
    let asked: Vec<String> = gw
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.1.clone())
        .collect();
    assert_eq!(asked, ["/", "/", "/app/"]);
}

#[test]
fn an_apps_own_404_passes_where_404_is_declared_but_the_fallback_never_does() {
    // The same words as Traefik's fallback, but from the app (its own
    // headers): a declared 404 is healthy.
    let gw = HttpsGateway::start(CI);
    let mut site = Site::app();
    site.routes
        .insert("/".into(), (404, "404 page not found\n".into()));
    gw.set_site("cust-000011.ci.example.org", site);
    let declared = health(r#"{"path":"/","statuses":[404]}"#);
    assert_eq!(
        probe::floor(&probe_for(&gw, "cust-000011.ci.example.org"), &declared),
        Ok("GET / → 404".to_owned())
    );
    // No router for the domain: Traefik's own 404, never healthy.
    let err = probe::floor(&probe_for(&gw, "cust-000012.ci.example.org"), &declared).unwrap_err();
    assert!(err.contains("Traefik's fallback 404"), "{err}");
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
        probe::floor(&p, &default_health())
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

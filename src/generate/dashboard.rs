//! The dashboard's NixOS module: the timer that runs `ccci dashboard` and the
//! nginx stack that serves the site read-only at its domain through Traefik
//! (docs/traefik.md, "The dashboard").

use serde::Serialize;

use crate::header::GENERATED;
use crate::names::host;
use crate::registry::Registry;

use super::escape::{Unrepresentable, sh_quote};

#[derive(Debug, Serialize)]
pub struct DashboardModule {
    pub header: &'static str,
    pub unit: String,
    pub serve_unit: String,
    pub stack_name: String,
    pub domain: String,
    /// The arguments of `ccci dashboard`, each shell-quoted (systemd's
    /// ExecStart quoting accepts single quotes).
    pub args: String,
    pub site_dir: String,
    pub runs_dir: String,
    pub image: String,
    pub network: String,
    pub labels: Vec<String>,
    pub nginx_conf: String,
    pub after: String,
}

/// nginx: GET and HEAD only, no directory listings, the state directory
/// hidden; badges cached briefly (READMEs embed them and they change with
/// every run), pages revalidated, a finished run's artifacts cached longer.
pub fn nginx_conf() -> String {
    r#"worker_processes 1;
error_log stderr warn;
pid /tmp/nginx.pid;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  types { text/plain md txt; }
  access_log off;
  server_tokens off;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  server {
    listen 80;
    root /srv/site;
    autoindex off;
    add_header X-Content-Type-Options nosniff always;
    location / {
      limit_except GET { deny all; }
      add_header Cache-Control "no-cache" always;
    }
    location ~ \.svg$ {
      limit_except GET { deny all; }
      add_header Cache-Control "public, max-age=60, stale-while-revalidate=600" always;
    }
    location /runs/ {
      alias /srv/runs/;
      limit_except GET { deny all; }
      add_header Cache-Control "public, max-age=3600" always;
    }
    location /.state/ { return 404; }
  }
}
"#
    .to_owned()
}

pub fn dashboard_module(reg: &Registry) -> Result<DashboardModule, Unrepresentable> {
    let d = &reg.host.dashboard;
    let mut args = vec![
        "--runs-dir".to_owned(),
        sh_quote(reg.host.runs_dir.as_str())?,
        "--site-dir".to_owned(),
        sh_quote(d.site_dir.as_str())?,
        "--retention".to_owned(),
        format!("{}s", d.retention.as_secs()),
    ];
    for r in reg.recipes.keys() {
        args.push("--recipe".to_owned());
        args.push(sh_quote(r.as_str())?);
    }
    const STACK: &str = host::DASHBOARD_STACK;
    let router = format!("traefik.http.routers.{STACK}");
    Ok(DashboardModule {
        header: GENERATED,
        unit: host::DASHBOARD_UNIT.to_owned(),
        serve_unit: host::DASHBOARD_SERVE_UNIT.to_owned(),
        stack_name: STACK.to_owned(),
        domain: d.domain.to_string(),
        args: args.join(" "),
        site_dir: d.site_dir.to_string(),
        runs_dir: reg.host.runs_dir.to_string(),
        image: format!("nginx:{}", d.nginx),
        network: host::PROXY_NETWORK.to_owned(),
        labels: vec![
            "traefik.enable=true".to_owned(),
            format!("traefik.docker.network={}", host::PROXY_NETWORK),
            format!("traefik.http.services.{STACK}.loadbalancer.server.port=80"),
            format!("{router}.rule=Host(`{}`)", d.domain),
            format!("{router}.entrypoints=web-secure"),
            format!("{router}.tls=true"),
        ],
        nginx_conf: nginx_conf(),
        after: host::service(host::SWARM_UNIT),
    })
}

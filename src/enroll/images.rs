//! How long an app of a given image kind takes to come up on a fresh
//! deploy: a JVM, or an app that runs long database migrations on first
//! start, needs more than the host's default (docs/enroll.md, "Deploy timeout").

use crate::registry::SqlEngine;
use crate::registry::values::Duration;

/// Kinds of image whose cold start is slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowKind {
    /// A Java virtual machine: class loading and JIT warm-up.
    Jvm,
    /// First start creates or migrates a large database schema.
    Migrations,
}

impl SlowKind {
    pub fn describe(self) -> &'static str {
        match self {
            SlowKind::Jvm => "a JVM application (slow cold start)",
            SlowKind::Migrations => "an application that migrates its database on first start",
        }
    }

    /// The deploy timeout this kind needs.
    pub fn deploy_timeout(self) -> Duration {
        match self {
            SlowKind::Jvm | SlowKind::Migrations => Duration::from_secs(600),
        }
    }
}

/// Image repository names (a last path segment, or an `owner/name`) and
/// their kind. Matched against the repository without registry and tag.
const TABLE: &[(&str, SlowKind)] = &[
    ("keycloak", SlowKind::Jvm),
    ("openjdk", SlowKind::Jvm),
    ("eclipse-temurin", SlowKind::Jvm),
    ("amazoncorretto", SlowKind::Jvm),
    ("tomcat", SlowKind::Jvm),
    ("jetty", SlowKind::Jvm),
    ("jenkins", SlowKind::Jvm),
    ("elasticsearch", SlowKind::Jvm),
    ("opensearch", SlowKind::Jvm),
    ("matrixdotorg/synapse", SlowKind::Migrations),
    ("synapse", SlowKind::Migrations),
    ("nextcloud", SlowKind::Migrations),
    ("discourse", SlowKind::Migrations),
    ("gitlab-ce", SlowKind::Migrations),
    ("mastodon", SlowKind::Migrations),
    ("peertube", SlowKind::Migrations),
    ("bonfire", SlowKind::Migrations),
    ("lasuite-docs", SlowKind::Migrations),
];

/// The slow kind of an image repository (`bitnami/keycloak`,
/// `matrixdotorg/synapse`), if the table knows it.
pub fn kind_of(repo: &str) -> Option<(SlowKind, &'static str)> {
    let last = repo.rsplit('/').next().unwrap_or(repo);
    TABLE
        .iter()
        .find(|(name, _)| *name == repo || *name == last)
        .map(|(name, kind)| (*kind, *name))
}

/// The SQL engine a database image runs, by its repository's last segment.
pub fn sql_engine(repo: &str) -> Option<SqlEngine> {
    let last = repo.rsplit('/').next().unwrap_or(repo);
    if last.contains("postgres") || last.contains("postgis") || last.contains("timescaledb") {
        Some(SqlEngine::Postgres)
    } else if last.contains("mariadb") {
        // Not mysql: the marker runs the `mariadb` client, which MySQL
        // images do not ship.
        Some(SqlEngine::Mariadb)
    } else {
        None
    }
}

/// Directories web servers serve as the document root in their images
/// (nginx, Apache httpd, Caddy, and PHP-style `/var/www/html`).
pub const WEB_ROOTS: &[&str] = &[
    "/usr/share/nginx/html",
    "/var/www/html",
    "/usr/local/apache2/htdocs",
    "/usr/share/caddy",
    "/srv",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_images_name_their_engine() {
        assert_eq!(sql_engine("baosystems/postgis"), Some(SqlEngine::Postgres));
        assert_eq!(sql_engine("postgres"), Some(SqlEngine::Postgres));
        assert_eq!(sql_engine("mariadb"), Some(SqlEngine::Mariadb));
        assert_eq!(sql_engine("bitnami/mysql"), None);
        assert_eq!(sql_engine("nginx"), None);
    }

    #[test]
    fn known_images_are_slow_and_others_are_not() {
        assert_eq!(kind_of("keycloak/keycloak").unwrap().0, SlowKind::Jvm);
        assert_eq!(
            kind_of("matrixdotorg/synapse").unwrap().0,
            SlowKind::Migrations
        );
        assert_eq!(
            kind_of("bonfirenetworks/bonfire").unwrap().0,
            SlowKind::Migrations
        );
        assert!(kind_of("nginx").is_none());
        assert!(kind_of("library/keycloakish").is_none());
        assert!(SlowKind::Jvm.deploy_timeout().as_secs() > 300);
    }
}

//! Data markers: how a run writes a known value into the app and reads it back,
//! from the plan's declaration alone (no recipe-specific code).
//!
//! Every write and read is a shell script run with `sh -c` inside one service's
//! container, except that an http-file marker is read back over HTTPS (proving
//! the app serves the data, not only that the file exists).

use crate::registry::Marker;
use crate::registry::model::SqlEngine;

/// A script to run inside a service's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecScript {
    pub service: String,
    pub script: String,
}

/// How a marker is read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerRead {
    Exec(ExecScript),
    /// GET this path over HTTPS; the body (trimmed) is the value.
    Https {
        path: String,
    },
}

/// A marker value: only `[a-z0-9-]`, so it needs no quoting in any shell or SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerValue(String);

impl MarkerValue {
    /// `ccci-<run>-<phase>`; characters outside `[a-z0-9-]` are dropped.
    pub fn new(run: &str, phase: &str) -> Self {
        let raw = format!("ccci-{run}-{phase}").to_ascii_lowercase();
        MarkerValue(
            raw.chars()
                .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect(),
        )
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The table every SQL marker uses.
pub const SQL_TABLE: &str = "ccci_marker";

fn file_write(path: &str, value: &MarkerValue) -> String {
    // Paths are validated AbsPaths ([A-Za-z0-9/._+@-]) and values are
    // [a-z0-9-]: neither needs quoting, and the plain form works in the
    // smallest shells (busybox) recipes ship.
    format!("printf %s {} > {path}", value.as_str())
}

fn sql_client(
    engine: SqlEngine,
    user: &str,
    database: &str,
    password_file: Option<&str>,
) -> String {
    // The password goes through the environment, never argv: both clients
    // read it from there (PGPASSWORD, MYSQL_PWD) and argv is visible in `ps`.
    let pwd = |var: &str| {
        password_file
            .map(|f| format!("{var}=\"$(cat '{f}')\" "))
            .unwrap_or_default()
    };
    match engine {
        SqlEngine::Postgres => format!(
            "{}psql -v ON_ERROR_STOP=1 -X -q -t -A -U '{user}' -d '{database}'",
            pwd("PGPASSWORD")
        ),
        SqlEngine::Mariadb => format!("{}mariadb -N -B -u '{user}' '{database}'", pwd("MYSQL_PWD")),
    }
}

/// The script that writes `value`.
pub fn write_script(marker: &Marker, value: &MarkerValue) -> ExecScript {
    match marker {
        Marker::HttpFile { service, path, .. } | Marker::ExecFile { service, path } => ExecScript {
            service: service.to_string(),
            script: file_write(path.as_str(), value),
        },
        Marker::Sql {
            engine,
            service,
            database,
            user,
            password_file,
        } => {
            let v = value.as_str();
            let sql = match engine {
                SqlEngine::Postgres => format!(
                    "CREATE TABLE IF NOT EXISTS {SQL_TABLE} (id integer PRIMARY KEY, value text NOT NULL); \
                     INSERT INTO {SQL_TABLE} (id, value) VALUES (1, '{v}') ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;"
                ),
                SqlEngine::Mariadb => format!(
                    "CREATE TABLE IF NOT EXISTS {SQL_TABLE} (id INT PRIMARY KEY, value TEXT NOT NULL); \
                     REPLACE INTO {SQL_TABLE} (id, value) VALUES (1, '{v}');"
                ),
            };
            let client = sql_client(
                *engine,
                user.as_str(),
                database.as_str(),
                password_file.as_ref().map(|p| p.as_str()),
            );
            let flag = if *engine == SqlEngine::Postgres {
                "-c"
            } else {
                "-e"
            };
            ExecScript {
                service: service.to_string(),
                script: format!("{client} {flag} \"{sql}\""),
            }
        }
        Marker::Exec { service, write, .. } => ExecScript {
            service: service.to_string(),
            script: write.replace("{value}", value.as_str()),
        },
    }
}

/// How to read the marker back.
pub fn read_plan(marker: &Marker) -> MarkerRead {
    match marker {
        Marker::HttpFile { url_path, .. } => MarkerRead::Https {
            path: url_path.to_string(),
        },
        Marker::ExecFile { service, path } => MarkerRead::Exec(ExecScript {
            service: service.to_string(),
            script: format!("cat {}", path.as_str()),
        }),
        Marker::Sql {
            engine,
            service,
            database,
            user,
            password_file,
        } => {
            let client = sql_client(
                *engine,
                user.as_str(),
                database.as_str(),
                password_file.as_ref().map(|p| p.as_str()),
            );
            let flag = if *engine == SqlEngine::Postgres {
                "-c"
            } else {
                "-e"
            };
            MarkerRead::Exec(ExecScript {
                service: service.to_string(),
                script: format!("{client} {flag} \"SELECT value FROM {SQL_TABLE} WHERE id = 1;\""),
            })
        }
        Marker::Exec { service, read, .. } => MarkerRead::Exec(ExecScript {
            service: service.to_string(),
            script: read.clone(),
        }),
    }
}

/// Whether what was read back is the marker: the value on a line of its own
/// (clients add headers, padding or trailing newlines).
pub fn holds(output: &str, value: &MarkerValue) -> bool {
    output.lines().any(|l| l.trim() == value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(json: &str) -> Marker {
        serde_json::from_str(json).unwrap()
    }

    fn v() -> MarkerValue {
        MarkerValue::new("ab12cd", "original")
    }

    #[test]
    fn value_is_shell_safe() {
        assert_eq!(MarkerValue::new("A b'$x", "orig").as_str(), "ccci-abx-orig");
    }

    #[test]
    fn http_file_writes_with_exec_and_reads_over_https() {
        let m = marker(
            r#"{"kind":"http-file","path":"/usr/share/nginx/html/ccci.txt","url_path":"/ccci.txt"}"#,
        );
        let w = write_script(&m, &v());
        assert_eq!(w.service, "app");
        assert_eq!(
            w.script,
            "printf %s ccci-ab12cd-original > /usr/share/nginx/html/ccci.txt"
        );
        assert_eq!(
            read_plan(&m),
            MarkerRead::Https {
                path: "/ccci.txt".into()
            }
        );
    }

    #[test]
    fn exec_file_reads_with_cat() {
        let m = marker(r#"{"kind":"exec-file","service":"cryptpad","path":"/data/ccci"}"#);
        let MarkerRead::Exec(r) = read_plan(&m) else {
            panic!()
        };
        assert_eq!(r.service, "cryptpad");
        assert_eq!(r.script, "cat /data/ccci");
    }

    #[test]
    fn postgres_marker_uses_the_ccci_marker_table() {
        let m =
            marker(r#"{"kind":"sql","engine":"postgres","database":"synapse","user":"synapse"}"#);
        let w = write_script(&m, &v());
        assert_eq!(w.service, "db");
        assert!(w.script.starts_with("psql"), "{}", w.script);
        assert!(w.script.contains("CREATE TABLE IF NOT EXISTS ccci_marker"));
        assert!(w.script.contains("ON CONFLICT"));
        let MarkerRead::Exec(r) = read_plan(&m) else {
            panic!()
        };
        assert!(r.script.contains("SELECT value FROM ccci_marker"));
    }

    #[test]
    fn mariadb_password_travels_in_the_environment() {
        let m = marker(
            r#"{"kind":"sql","engine":"mariadb","database":"keycloak","user":"keycloak","password_file":"/run/secrets/db_password"}"#,
        );
        let w = write_script(&m, &v());
        assert!(
            w.script
                .starts_with("MYSQL_PWD=\"$(cat '/run/secrets/db_password')\" mariadb"),
            "{}",
            w.script
        );
        assert!(!w.script.contains(" -p"));
        assert!(w.script.contains("REPLACE INTO ccci_marker"));
    }

    #[test]
    fn postgres_password_travels_in_the_environment() {
        let m = marker(
            r#"{"kind":"sql","engine":"postgres","database":"synapse","user":"synapse","password_file":"/run/secrets/db_password"}"#,
        );
        let w = write_script(&m, &v());
        assert!(
            w.script
                .starts_with("PGPASSWORD=\"$(cat '/run/secrets/db_password')\" psql "),
            "{}",
            w.script
        );
        assert!(!w.script.contains("password="), "{}", w.script);
        let MarkerRead::Exec(r) = read_plan(&m) else {
            panic!()
        };
        assert!(
            r.script
                .starts_with("PGPASSWORD=\"$(cat '/run/secrets/db_password')\" psql "),
            "{}",
            r.script
        );
        // Without a file, no password is handed over.
        let m =
            marker(r#"{"kind":"sql","engine":"postgres","database":"synapse","user":"synapse"}"#);
        assert!(write_script(&m, &v()).script.starts_with("psql "));
    }

    #[test]
    fn exec_marker_substitutes_the_value() {
        let m = marker(r#"{"kind":"exec","write":"echo {value} > /x","read":"cat /x"}"#);
        assert_eq!(
            write_script(&m, &v()).script,
            "echo ccci-ab12cd-original > /x"
        );
        let MarkerRead::Exec(r) = read_plan(&m) else {
            panic!()
        };
        assert_eq!(r.script, "cat /x");
    }

    #[test]
    fn holds_needs_the_exact_value_on_a_line() {
        assert!(holds("  ccci-ab12cd-original\n", &v()));
        assert!(!holds("ccci-ab12cd-originalX\n", &v()));
        assert!(!holds("ccci-ab12cd-mutated\n", &v()));
        assert!(!holds("", &v()));
    }
}

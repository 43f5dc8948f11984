//! The names abra and Docker derive from an app's domain: the stack, its
//! services, volumes and versioned secrets and configs, and the env-file key
//! that holds a secret's version. Docker refuses names over its limits, so the
//! bounded constructors say so instead of letting a deploy fail later.

/// Docker rejects config and secret names longer than this.
pub const DOCKER_OBJECT_NAME_MAX: usize = 64;
/// Service names become DNS labels inside the swarm.
pub const DOCKER_SERVICE_NAME_MAX: usize = 63;
/// The version abra gives a secret whose version key is not set.
pub const DEFAULT_SECRET_VERSION: &str = "v1";

/// abra's stack name for an app domain: dots become underscores.
pub fn stack_name(domain: &str) -> String {
    domain.replace('.', "_")
}

/// What every object of the stack (service, volume, secret, config) starts
/// with, `<stack>_`: a listing filtered by it holds the stack's objects only.
pub fn stack_prefix(stack: &str) -> String {
    format!("{stack}_")
}

/// A name Docker would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} name {name:?} is {len} characters, Docker allows at most {max}")]
pub struct NameTooLong {
    pub kind: &'static str,
    pub name: String,
    pub len: usize,
    pub max: usize,
}

/// The name of a swarm service of the stack, `<stack>_<service>`.
pub fn service_name(stack: &str, service: &str) -> Result<String, NameTooLong> {
    bounded(
        "service",
        format!("{}{service}", stack_prefix(stack)),
        DOCKER_SERVICE_NAME_MAX,
    )
}

/// A versioned swarm secret or config of a stack, `<stack>_<name>_<version>`,
/// as abra creates them. Unchecked: for comparing with what exists.
pub fn versioned_name(stack: &str, name: &str, version: &str) -> String {
    format!("{}{name}_{version}", stack_prefix(stack))
}

/// [`versioned_name`], refused when Docker would refuse it.
pub fn object_name(stack: &str, name: &str, version: &str) -> Result<String, NameTooLong> {
    bounded(
        "config or secret",
        versioned_name(stack, name, version),
        DOCKER_OBJECT_NAME_MAX,
    )
}

/// The docker secret name abra gives a recipe secret of the app at `domain`.
pub fn secret_name(domain: &str, secret: &str, version: &str) -> String {
    versioned_name(&stack_name(domain), secret, version)
}

/// A volume of the stack, `<stack>_<volume>`.
pub fn volume_name(stack: &str, volume: &str) -> String {
    format!("{}{volume}", stack_prefix(stack))
}

/// The env-file key holding a recipe secret's version, abra's convention
/// `SECRET_<NAME>_VERSION`.
pub fn secret_version_key(secret: &str) -> String {
    format!("SECRET_{}_VERSION", secret.to_ascii_uppercase())
}

/// The secret whose version a `SECRET_<NAME>_VERSION` key holds, lowercase as
/// compose files name it; `None` for any other key.
pub fn secret_of_version_key(key: &str) -> Option<String> {
    let name = key.strip_prefix("SECRET_")?.strip_suffix("_VERSION")?;
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

fn bounded(kind: &'static str, name: String, max: usize) -> Result<String, NameTooLong> {
    let len = name.len();
    if len > max {
        return Err(NameTooLong {
            kind,
            name,
            len,
            max,
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "keyc-3fa9c1_ci_example_org";

    #[test]
    fn a_version_key_names_its_secret() {
        assert_eq!(
            secret_of_version_key(&secret_version_key("db_password")).as_deref(),
            Some("db_password")
        );
        assert_eq!(secret_of_version_key("SECRET__VERSION"), None);
        assert_eq!(secret_of_version_key("DOMAIN"), None);
    }

    #[test]
    fn names_follow_abra() {
        assert_eq!(stack_name("keyc-3fa9c1.ci.example.org"), STACK);
        assert_eq!(secret_name("a.b", "ssl_cert", "v2"), "a_b_ssl_cert_v2");
    }

    #[test]
    fn config_name_within_the_64_char_limit_is_accepted() {
        let name = object_name(STACK, "entrypoint_conf", "v1").unwrap();
        assert_eq!(name, "keyc-3fa9c1_ci_example_org_entrypoint_conf_v1");
        assert!(name.len() <= DOCKER_OBJECT_NAME_MAX);
    }

    #[test]
    fn config_name_over_64_chars_is_refused_with_its_length() {
        let err = object_name(STACK, &"c".repeat(34), "v12").unwrap_err();
        assert_eq!(err.len, 64 + 1);
        assert_eq!(err.max, 64);
    }

    #[test]
    fn exactly_64_chars_is_allowed() {
        let stack = "x".repeat(40);
        let name = object_name(&stack, &"y".repeat(20), "v1").unwrap();
        assert_eq!(name.len(), 64);
    }

    #[test]
    fn service_names_are_bounded_by_63() {
        assert!(service_name(&"s".repeat(60), "app").is_err());
        assert_eq!(service_name("st", "app").unwrap(), "st_app");
    }

    #[test]
    fn volumes_are_prefixed_with_the_stack() {
        assert_eq!(volume_name("st", "data"), "st_data");
        assert!(volume_name("st", "data").starts_with(&stack_prefix("st")));
    }

    #[test]
    fn the_secret_version_key_is_upper_case() {
        assert_eq!(
            secret_version_key("db_password"),
            "SECRET_DB_PASSWORD_VERSION"
        );
    }
}

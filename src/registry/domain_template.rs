//! `env_from_domain` templates: env values computed from the run's domain.
//!
//! A template is any text with the placeholders `{label}`, `{domain}` and
//! `{ci_domain}` — a bare sibling domain (cryptpad's `SANDBOX_DOMAIN`), or a
//! piece of a Traefik rule (`Host(\`{domain}\`)`, `, \`www-{label}.{ci_domain}\``).
//! Whatever the text, every host name in it that the run's domain or the CI
//! domain produced must be one label under the CI domain: the wildcard
//! certificate `*.<ci_domain>` covers nothing deeper, and a test app must never
//! route a name outside its CI domain.

use super::DOMAIN_PLACEHOLDERS;
use super::values::Domain;

/// The label a check fills a template with: shaped like a real run label
/// (`names::run`), so a template that breaks with real labels breaks here too.
const SAMPLE_LABEL: &str = "abcd-0a1b2c";

/// Check a template: only the known placeholders, no control characters (an
/// env file holds one value per line), and every produced host name that ends
/// in the CI domain, or contains the run label, is one label under the CI
/// domain.
pub fn check_domain_template(template: &str, ci_domain: &Domain) -> Result<(), String> {
    let mut rest = template.to_owned();
    for p in DOMAIN_PLACEHOLDERS {
        rest = rest.replace(p, "");
    }
    if rest.contains(['{', '}']) {
        return Err(format!(
            "unknown placeholder in {template:?}; expected only {}",
            DOMAIN_PLACEHOLDERS.join(", ")
        ));
    }
    if template.chars().any(char::is_control) {
        return Err(format!(
            "{template:?} contains a control character; expected one line of text"
        ));
    }
    if !DOMAIN_PLACEHOLDERS.iter().any(|p| template.contains(p)) {
        return Err(format!(
            "{template:?} uses no placeholder; expected at least one of {} (a fixed value belongs in [env])",
            DOMAIN_PLACEHOLDERS.join(", ")
        ));
    }
    let sample = fill_domain_template(template, SAMPLE_LABEL, ci_domain);
    for name in host_names(&sample) {
        let derived = name.ends_with(ci_domain.as_str()) || name.contains(SAMPLE_LABEL);
        if derived && !under_wildcard(name, ci_domain) {
            return Err(format!(
                "{template:?} gives the host name {name:?}, which the wildcard certificate *.{ci_domain} does not cover; use one label, e.g. \"{{label}}-sandbox.{{ci_domain}}\""
            ));
        }
    }
    Ok(())
}

/// Fill a domain template for one run (the runtime calls this with the run's label).
pub fn fill_domain_template(template: &str, label: &str, ci_domain: &Domain) -> String {
    // One pass, so a placeholder-looking text inside a filled value is never
    // filled again.
    let domain = format!("{label}.{ci_domain}");
    let mut out = String::with_capacity(template.len() + domain.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (value, len) = if tail.starts_with("{label}") {
            (label, "{label}".len())
        } else if tail.starts_with("{domain}") {
            (domain.as_str(), "{domain}".len())
        } else if tail.starts_with("{ci_domain}") {
            (ci_domain.as_str(), "{ci_domain}".len())
        } else {
            ("{", 1)
        };
        out.push_str(value);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// The host-name-looking runs of a text: maximal runs of DNS characters
/// (letters, digits, `-`, `.`) holding at least one dot, with dots at the ends
/// dropped (a sentence's full stop is not part of a name).
fn host_names(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| w.contains('.'))
}

fn under_wildcard(name: &str, ci_domain: &Domain) -> bool {
    name.strip_suffix(ci_domain.as_str())
        .and_then(|s| s.strip_suffix('.'))
        .is_some_and(|label| {
            !label.is_empty()
                && !label.contains('.')
                && format!("{label}.{ci_domain}").parse::<Domain>().is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci() -> Domain {
        "ci.example.org".parse().unwrap()
    }

    #[test]
    fn bare_sibling_domains_are_accepted() {
        assert!(check_domain_template("{label}-sandbox.{ci_domain}", &ci()).is_ok());
        assert!(check_domain_template("{domain}", &ci()).is_ok());
        assert_eq!(
            fill_domain_template("{label}-sandbox.{ci_domain}", "cryp-0a1b2c", &ci()),
            "cryp-0a1b2c-sandbox.ci.example.org"
        );
    }

    #[test]
    fn traefik_rule_text_is_accepted() {
        for t in [
            "Host(`{domain}`)",
            ", `www-{label}.{ci_domain}`",
            "Host(`{domain}`) && PathPrefix(`/api`)",
            "Host(`{domain}`) || Host(`{label}-admin.{ci_domain}`)",
            "https://{domain}/callback",
        ] {
            assert_eq!(check_domain_template(t, &ci()), Ok(()), "{t}");
        }
        assert_eq!(
            fill_domain_template(", `www-{label}.{ci_domain}`", "mail-123abc", &ci()),
            ", `www-mail-123abc.ci.example.org`"
        );
    }

    #[test]
    fn names_outside_the_wildcard_are_refused() {
        for t in [
            "sandbox.{domain}",
            "{label}.other.org",
            "Host(`{domain}`) || Host(`www.{domain}`)",
            "{ci_domain}",
            "Host(`x.y.{ci_domain}`)",
        ] {
            let e = check_domain_template(t, &ci()).unwrap_err();
            assert!(e.contains("wildcard"), "{t}: {e}");
        }
    }

    #[test]
    fn unknown_placeholders_control_characters_and_constants_are_refused() {
        assert!(
            check_domain_template("{nope}.{ci_domain}", &ci())
                .unwrap_err()
                .contains("unknown placeholder")
        );
        assert!(
            check_domain_template("{domain}\nEVIL=1", &ci())
                .unwrap_err()
                .contains("control character")
        );
        assert!(
            check_domain_template("Host(`example.org`)", &ci())
                .unwrap_err()
                .contains("no placeholder")
        );
    }

    #[test]
    fn hostile_text_is_kept_verbatim_for_the_env_file_to_quote() {
        let t = "$(id) '\"` ; {domain}";
        assert!(check_domain_template(t, &ci()).is_ok());
        assert_eq!(
            fill_domain_template(t, "abcd-0a1b2c", &ci()),
            "$(id) '\"` ; abcd-0a1b2c.ci.example.org"
        );
    }

    #[test]
    fn a_filled_value_is_never_filled_again() {
        assert_eq!(fill_domain_template("{{label}}", "x", &ci()), "{x}");
    }
}

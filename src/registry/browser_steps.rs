//! The steps of a declared browser flow (`[[browser]] steps`), shared by the
//! registry and the runner plan. Each step is a one-key table naming what it
//! does, so a misspelt step or a missing field is a load-time error that names
//! the key (`unknown variant `clik`, expected one of …`).

use serde::{Deserialize, Serialize};

use super::values::{UrlPath, Word};

/// One step of a browser flow, run in order after the check's page loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BrowserStep {
    /// Open a path of the app.
    Goto(UrlPath),
    /// Type a literal value into the element matching a CSS selector.
    Fill { css: String, value: String },
    /// Type one of the app's secrets (read from `/run/secrets/<secret>` in
    /// `service`) into the element matching a CSS selector. The value is
    /// never printed, recorded or kept.
    FillSecret {
        css: String,
        secret: Word,
        service: Word,
    },
    /// Click the element matching a CSS selector.
    Click(String),
    /// Wait until an element matches a CSS selector.
    WaitFor(String),
    /// Wait until the page's text shows this.
    WaitForText(String),
    /// The page's text shows this now (after the page settled).
    ExpectText(String),
    /// The page title contains this.
    ExpectTitle(String),
    /// The page URL contains this.
    ExpectUrl(String),
}

impl BrowserStep {
    /// The step as reports show it: its kind and target, never a value typed.
    pub fn describe(&self) -> String {
        match self {
            BrowserStep::Goto(p) => format!("goto {p}"),
            BrowserStep::Fill { css, .. } => format!("fill {css}"),
            BrowserStep::FillSecret { css, secret, .. } => {
                format!("fill {css} with secret {secret}")
            }
            BrowserStep::Click(c) => format!("click {c}"),
            BrowserStep::WaitFor(c) => format!("wait_for {c}"),
            BrowserStep::WaitForText(t) => format!("wait_for_text {t:?}"),
            BrowserStep::ExpectText(t) => format!("expect_text {t:?}"),
            BrowserStep::ExpectTitle(t) => format!("expect_title {t:?}"),
            BrowserStep::ExpectUrl(u) => format!("expect_url {u:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Flow {
        steps: Vec<BrowserStep>,
    }

    #[test]
    fn steps_read_as_one_key_tables() {
        let f: Flow = toml::from_str(
            r##"steps = [
                { goto = "/login" },
                { fill = { css = "#user", value = "admin" } },
                { fill_secret = { css = "#password", secret = "admin_password", service = "app" } },
                { click = "#submit" },
                { wait_for = "#console" },
                { expect_text = "Welcome" },
                { expect_title = "Console" },
                { expect_url = "/console" },
            ]"##,
        )
        .unwrap();
        assert_eq!(f.steps.len(), 8);
        assert_eq!(f.steps[3], BrowserStep::Click("#submit".into()));
        assert_eq!(
            f.steps[2].describe(),
            "fill #password with secret admin_password"
        );
    }

    #[test]
    fn a_misspelt_step_or_a_missing_field_is_an_error_naming_it() {
        let e = toml::from_str::<Flow>(r##"steps = [{ clik = "#a" }]"##)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("clik") && e.contains("expected one of"), "{e}");
        let e = toml::from_str::<Flow>(r##"steps = [{ fill = { css = "#a" } }]"##)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("value"), "{e}");
    }
}

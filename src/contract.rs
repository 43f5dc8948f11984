//! Reading the JSON contracts between ccci's parts: the runner plan and the
//! service configs (written by ccci-gen) and `results.json` (written by
//! `ccci run`). Each carries a `schema` number, checked before the rest so an
//! old file says "regenerate" instead of failing on an unknown field.
//!
//! A canonical example of each, per schema version, is an insta snapshot in
//! `tests/contract_snapshots.rs`: any change to a contract's shape shows there
//! as a diff to review (and a schema bump as new snapshot names).

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// One kind of contract file.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    /// What the file is, for messages: "runner plan", "config", "results".
    pub what: &'static str,
    /// The schema this ccci reads.
    pub schema: u32,
    /// How to get a file of the right schema.
    pub remedy: &'static str,
}

/// Why a contract file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("{path}: cannot read the {what}: {source}")]
    Read {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid {what}: {source}")]
    Parse {
        what: &'static str,
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {what} schema {found}, this ccci reads schema {expected}; {remedy}")]
    Schema {
        what: &'static str,
        path: String,
        found: u32,
        expected: u32,
        remedy: &'static str,
    },
}

impl Contract {
    /// Read and check a contract file.
    pub fn read<T: DeserializeOwned>(&self, path: &Path) -> Result<T, ContractError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ContractError::Read {
            what: self.what,
            path: shown.clone(),
            source,
        })?;
        self.parse(&shown, &text)
    }

    /// Check a contract held in memory; `shown` names it in messages.
    pub fn parse<T: DeserializeOwned>(&self, shown: &str, text: &str) -> Result<T, ContractError> {
        #[derive(Deserialize)]
        struct SchemaOnly {
            schema: u32,
        }
        let parse_error = |source| ContractError::Parse {
            what: self.what,
            path: shown.to_owned(),
            source,
        };
        let found = serde_json::from_str::<SchemaOnly>(text)
            .map_err(parse_error)?
            .schema;
        if found != self.schema {
            return Err(ContractError::Schema {
                what: self.what,
                path: shown.to_owned(),
                found,
                expected: self.schema,
                remedy: self.remedy,
            });
        }
        serde_json::from_str(text).map_err(parse_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Contract = Contract {
        what: "thing",
        schema: 2,
        remedy: "make a new one",
    };

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Thing {
        schema: u32,
        name: String,
    }

    #[test]
    fn a_current_file_reads() {
        let t: Thing = TEST
            .parse("t.json", r#"{"schema": 2, "name": "x"}"#)
            .unwrap();
        assert_eq!(
            t,
            Thing {
                schema: 2,
                name: "x".into()
            }
        );
    }

    #[test]
    fn an_old_schema_says_what_to_do_before_field_errors() {
        let err = TEST
            .parse::<Thing>("t.json", r#"{"schema": 1, "old": true}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.json: thing schema 1, this ccci reads schema 2; make a new one"
        );
    }

    #[test]
    fn a_missing_file_and_bad_json_name_the_file() {
        let err = TEST
            .read::<Thing>(Path::new("/nonexistent/t.json"))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/t.json: cannot read the thing"),
            "{err}"
        );
        let err = TEST.parse::<Thing>("t.json", "{").unwrap_err();
        assert!(
            err.to_string().starts_with("t.json: not a valid thing"),
            "{err}"
        );
    }
}

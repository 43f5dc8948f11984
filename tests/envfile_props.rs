//! Property tests of the env-file editor: any file + any edits → the file reads
//! back as the intended mapping, and every line the edits are not about is
//! byte-identical, in order.

use std::collections::{BTreeMap, BTreeSet};

use ccci::envfile::EnvFile;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "DOMAIN",
    "LETS_ENCRYPT_ENV",
    "SECRET_X_VERSION",
    "COMPOSE_FILE",
    "A",
    "b.c",
];

fn line() -> impl Strategy<Value = String> {
    let key = proptest::sample::select(KEYS).prop_map(str::to_owned);
    let plain = "[a-zA-Z0-9_./:-]{0,12}";
    prop_oneof![
        (key.clone(), plain).prop_map(|(k, v)| format!("{k}={v}")),
        (key.clone(), plain).prop_map(|(k, v)| format!("#{k}={v}")),
        (key.clone(), plain).prop_map(|(k, v)| format!("# {k}={v}")),
        (key.clone(), "[a-z #]{0,8}").prop_map(|(k, v)| format!("{k}='{v}'")),
        (key.clone(), plain).prop_map(|(k, v)| format!("export {k}=\"{v}\"")),
        (key, plain).prop_map(|(k, v)| format!("{k}={v} # comment")),
        "# [ -~]{0,20}".prop_map(|s| s),
        Just(String::new()),
        "[ -~]{0,20}".prop_map(|s| s),
    ]
}

fn file() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((line(), any::<bool>()), 0..12),
        any::<bool>(),
    )
        .prop_map(|(lines, final_newline)| {
            let mut out = String::new();
            let n = lines.len();
            for (i, (l, crlf)) in lines.into_iter().enumerate() {
                out.push_str(&l);
                if i + 1 < n || final_newline {
                    out.push_str(if crlf { "\r\n" } else { "\n" });
                }
            }
            out
        })
}

#[derive(Debug, Clone)]
enum Edit {
    Set(String, String),
    Unset(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let key = proptest::sample::select(KEYS).prop_map(str::to_owned);
    prop_oneof![
        3 => (key.clone(), "[^\u{0}]{0,16}").prop_map(|(k, v)| Edit::Set(k, v)),
        1 => key.prop_map(Edit::Unset),
    ]
}

fn edit_key(e: &Edit) -> &str {
    match e {
        Edit::Set(k, _) | Edit::Unset(k) => k,
    }
}

/// Lines (with their endings) that do not name any of `keys`, assigned or
/// commented out, each with its line ending.
fn untouched(text: &str, keys: &BTreeSet<String>) -> Vec<String> {
    let names = |l: &str| {
        let t = l.trim_start().trim_start_matches('#').trim_start();
        let t = t.strip_prefix("export ").map_or(t, str::trim_start);
        t.split_once('=')
            .is_some_and(|(k, _)| keys.contains(k.trim_end()))
    };
    text.split_inclusive('\n')
        .filter(|l| !names(l.trim_end_matches(['\n', '\r'])))
        .map(str::to_owned)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn edits_read_back_as_the_intended_mapping(text in file(), edits in proptest::collection::vec(edit(), 0..6)) {
        let mut env = EnvFile::parse(&text);
        let mut expected: BTreeMap<String, String> = env.to_map();
        for e in &edits {
            match e {
                Edit::Set(k, v) => { env.set(k, v).unwrap(); expected.insert(k.clone(), v.clone()); }
                Edit::Unset(k) => { env.unset(k).unwrap(); expected.remove(k); }
            }
        }
        let written = env.render();
        prop_assert_eq!(EnvFile::parse(&written).to_map(), expected);
    }

    #[test]
    fn lines_not_about_edited_keys_stay_byte_identical(text in file(), edits in proptest::collection::vec(edit(), 0..6)) {
        let mut env = EnvFile::parse(&text);
        for e in &edits {
            match e {
                Edit::Set(k, v) => { env.set(k, v).unwrap(); }
                Edit::Unset(k) => { env.unset(k).unwrap(); }
            }
        }
        let keys: BTreeSet<String> = edits.iter().map(|e| edit_key(e).to_owned()).collect();
        let written = env.render();
        let before = untouched(&text, &keys);
        let after = untouched(&written, &keys);
        prop_assert_eq!(before.len(), after.len(), "{:?} -> {:?}", text, written);
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            // Only the file's last line may gain the ending it lacked.
            let lacked_ending = i + 1 == before.len() && !text.ends_with('\n');
            prop_assert!(a == b || (lacked_ending && a.trim_end_matches(['\n', '\r']) == b),
                "line {} changed: {:?} -> {:?}", i, b, a);
        }
    }

    #[test]
    fn each_key_is_assigned_at_most_once_after_a_set(text in file(), k in proptest::sample::select(KEYS), v in "[^\u{0}]{0,16}") {
        let mut env = EnvFile::parse(&text);
        env.set(k, &v).unwrap();
        let written = env.render();
        let count = written.split_inclusive('\n').filter(|l| {
            let t = l.trim_start();
            let t = t.strip_prefix("export ").map_or(t, str::trim_start);
            !l.trim_start().starts_with('#') && t.split_once('=').is_some_and(|(key, _)| key.trim_end() == k)
        }).count();
        prop_assert_eq!(count, 1);
    }

    #[test]
    fn setting_the_same_values_again_changes_nothing(text in file(), k in proptest::sample::select(KEYS), v in "[^\u{0}]{0,16}") {
        let mut env = EnvFile::parse(&text);
        env.set(k, &v).unwrap();
        let once = env.render();
        let mut again = EnvFile::parse(&once);
        prop_assert!(!again.set(k, &v).unwrap());
        prop_assert_eq!(again.render(), once);
    }
}

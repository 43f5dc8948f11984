//! Every output, for the shipped registry and two edge registries, as insta
//! snapshots (one per registry). Review changes with `cargo insta review`.

mod gen_support;
use gen_support::*;

#[test]
fn default_registry_outputs() {
    insta::assert_snapshot!(joined(&render_dir(&repo_root())));
}

#[test]
fn registry_with_every_key_set() {
    insta::assert_snapshot!(joined(&render_dir(&fixture("every-key"))));
}

#[test]
fn registry_with_no_optional_key() {
    insta::assert_snapshot!(joined(&render_dir(&fixture("no-keys"))));
}

#[test]
fn key_reference() {
    insta::assert_snapshot!(ccci::registry::keys::reference_markdown());
}

/// The committed outputs are what the shipped registry renders: the same
/// promise `ccci-gen --check` makes in the self-test pipeline.
#[test]
fn committed_outputs_are_fresh() {
    let outputs = render_dir(&repo_root());
    let drift = ccci::generate::write::check(&repo_root(), &outputs).unwrap();
    assert!(
        drift.is_empty(),
        "run `cargo run --bin ccci-gen`: {drift:#?}"
    );
}

#[test]
fn rendering_is_deterministic() {
    let a = joined(&render_dir(&fixture("every-key")));
    let b = joined(&render_dir(&fixture("every-key")));
    assert_eq!(a, b);
    assert!(
        !a.contains(env!("CARGO_MANIFEST_DIR")),
        "no absolute machine paths"
    );
}

#[test]
fn every_output_starts_with_the_generated_header() {
    for root in [repo_root(), fixture("every-key"), fixture("no-keys")] {
        for o in render_dir(&root) {
            let first = o.text.lines().take(2).collect::<Vec<_>>().join("\n");
            assert!(
                first.contains(ccci::header::GENERATED),
                "{}: {first}",
                o.path
            );
        }
    }
}

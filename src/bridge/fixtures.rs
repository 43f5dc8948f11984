//! Fixtures the bridge's unit tests share: one enrolled repository and a
//! comment on its PR, as the sources would see it.

use std::collections::BTreeMap;

use crate::bridge::core::{Body, Rules, SeenComment, Source};

pub(crate) fn rules() -> Rules {
    let mut repos = BTreeMap::new();
    repos.insert(
        "acme/widget".parse().expect("slug"),
        "custom-html".parse().expect("recipe"),
    );
    Rules {
        org: "acme".into(),
        bot_user: "ccci-bot".into(),
        trigger: "!testme".into(),
        repos,
        allowlist: vec![],
        max_comment_age_secs: 86_400,
        max_trigger_attempts: 3,
        unproven_grace_secs: 5,
    }
}

pub(crate) fn seen(body: &str) -> SeenComment {
    SeenComment {
        id: 4711,
        repo: "acme/widget".into(),
        pr: Some(42),
        user: "alice".into(),
        body: Body::Full(body.into()),
        created_at: 1000,
        edited: false,
        proven: true,
        source: Source::Feed,
    }
}

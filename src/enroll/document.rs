//! A [`Proposal`] as a commented `recipes/<name>.toml`: the order of keys and
//! tables, the comment above each choice, and which lines are only
//! suggestions (written commented out, for the operator to fill in). The
//! template `templates/enroll/recipe.toml.j2` formats the lines.

use serde::Serialize;

use super::Proposal;
use crate::registry::Marker;

/// A TOML value of the proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Val {
    Str(String),
    Bool(bool),
    Ints(Vec<u16>),
    Strs(Vec<String>),
}

/// One line of the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Item {
    Blank,
    Comment {
        text: String,
    },
    Table {
        name: String,
        suggest: bool,
    },
    Key {
        key: String,
        value: Val,
        suggest: bool,
    },
}

/// Comment lines are wrapped at this width (the `# ` not counted).
const WIDTH: usize = 86;

fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > WIDTH {
            lines.push(std::mem::take(&mut line));
            line.push_str("  ");
        } else if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
    lines
}

#[derive(Default)]
struct Doc {
    items: Vec<Item>,
}

impl Doc {
    fn comment(&mut self, text: &str) {
        for l in wrap(text) {
            self.items.push(Item::Comment { text: l });
        }
    }
    fn why(&mut self, why: &[String]) {
        for w in why {
            self.comment(w);
        }
    }
    fn blank(&mut self) {
        if !matches!(self.items.last(), None | Some(Item::Blank)) {
            self.items.push(Item::Blank);
        }
    }
    fn key(&mut self, key: &str, value: Val, suggest: bool) {
        self.items.push(Item::Key {
            key: key.to_owned(),
            value,
            suggest,
        });
    }
    fn table(&mut self, name: &str, suggest: bool) {
        self.items.push(Item::Table {
            name: name.to_owned(),
            suggest,
        });
    }
}

fn marker_keys(doc: &mut Doc, m: &Marker) {
    let s = |v: &dyn ToString| Val::Str(v.to_string());
    match m {
        Marker::HttpFile {
            service,
            path,
            url_path,
        } => {
            doc.key("kind", s(&"http-file"), false);
            doc.key("service", s(service), false);
            doc.key("path", s(path), false);
            doc.key("url_path", s(url_path), false);
        }
        Marker::ExecFile { service, path } => {
            doc.key("kind", s(&"exec-file"), false);
            doc.key("service", s(service), false);
            doc.key("path", s(path), false);
        }
        Marker::Sql {
            engine,
            service,
            database,
            user,
            password_file,
        } => {
            doc.key("kind", s(&"sql"), false);
            let engine = match engine {
                crate::registry::SqlEngine::Postgres => "postgres",
                crate::registry::SqlEngine::Mariadb => "mariadb",
            };
            doc.key("engine", s(&engine), false);
            doc.key("service", s(service), false);
            doc.key("database", s(database), false);
            doc.key("user", s(user), false);
            if let Some(p) = password_file {
                doc.key("password_file", s(p), false);
            }
        }
        Marker::Exec {
            service,
            write,
            read,
        } => {
            doc.key("kind", s(&"exec"), false);
            doc.key("service", s(service), false);
            doc.key("write", s(write), false);
            doc.key("read", s(read), false);
        }
    }
}

/// The lines of the proposed file.
pub fn items(p: &Proposal) -> Vec<Item> {
    let mut d = Doc::default();
    d.comment(&format!(
        "recipes/{}.toml, proposed by `ccci-gen enroll` from",
        p.name
    ));
    // On a line of its own: a long URL is one word and never wraps.
    d.comment(&p.source);
    d.comment("Each choice below says why and where it came from (file:line in the recipe). Review them all before committing.");
    let chain = match &p.chain_at {
        Some(at) => format!("the COMPOSE_FILE chain of {at}"),
        None => "no COMPOSE_FILE in .env.sample, so compose.yml alone".to_owned(),
    };
    d.comment(&format!(
        "Compose files read: {} ({chain}).",
        p.files.join(", ")
    ));
    let (present, absent): (Vec<_>, Vec<_>) = p.optional_files.iter().partition(|(_, _, e)| *e);
    let list = |v: &[&(String, super::At, bool)]| {
        v.iter()
            .map(|(f, at, _)| format!("{f} ({at})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !present.is_empty() {
        d.comment(&format!(
            "Optional overlays the sample documents: {}.",
            list(&present)
        ));
    }
    if !absent.is_empty() {
        d.comment(&format!(
            "Overlays the sample mentions but the repository lacks: {}.",
            list(&absent)
        ));
    }
    if !p.secrets.is_empty() {
        d.comment("Secrets (abra generates each on deploy unless noted):");
        for s in &p.secrets {
            let mods = if s.modifiers.is_empty() {
                String::new()
            } else {
                format!(", {}", s.modifiers)
            };
            let needs = if s.needs_value {
                ", NEEDS A REAL VALUE"
            } else {
                ""
            };
            d.comment(&format!(
                "  {} {}{mods} ({}){needs}",
                s.name, s.version, s.at
            ));
        }
    }
    d.blank();
    if let Some(r) = &p.repo {
        d.blank();
        d.why(&r.why);
        d.key("repo", Val::Str(r.value.to_string()), false);
    }
    if let Some(g) = &p.git_url {
        d.blank();
        d.why(&g.why);
        d.key("git_url", Val::Str(g.value.to_string()), false);
    }
    if let Some(w) = &p.web {
        d.blank();
        d.why(&w.why);
        d.key("web", Val::Bool(w.value), false);
    }
    let overlays: Vec<String> = p
        .optional_files
        .iter()
        .filter(|(_, _, exists)| *exists)
        .map(|(f, _, _)| f.clone())
        .collect();
    if !overlays.is_empty() {
        d.blank();
        d.comment("Overlays to test as well, appended to the sample's chain; keep those that apply together:");
        d.key("compose_files", Val::Strs(overlays), true);
    }
    match &p.deploy_timeout {
        Ok(t) => {
            d.blank();
            d.why(&t.why);
            d.key("deploy_timeout", Val::Str(t.value.to_string()), false);
        }
        Err(why) => {
            d.blank();
            d.comment(&format!("deploy_timeout: not set, {why}."));
        }
    }
    if let Some(b) = &p.backup {
        d.blank();
        d.why(&b.why);
        d.key("backup", Val::Str("auto".into()), false);
    }
    if let Some(u) = &p.upgrade_base {
        d.blank();
        d.comment(&format!(
            "The upgrade lane starts from {}: {}. It is chosen at each run; pin it with upgrade_base if needed.",
            u.value,
            u.why.join("; ")
        ));
    }
    if let Some(h) = &p.health {
        d.blank();
        d.why(&h.why);
        d.table("health", false);
        d.key("path", Val::Str(h.value.path.to_string()), false);
        d.key(
            "statuses",
            Val::Ints(h.value.statuses.as_slice().to_vec()),
            false,
        );
    }
    d.blank();
    match &p.marker {
        Some(m) => {
            d.why(&m.why);
            d.table("marker", false);
            marker_keys(&mut d, &m.value);
        }
        None => d.comment("No data marker could be chosen (see the notes enroll printed); declare [marker] by hand."),
    }
    if !p.skip.is_empty() {
        d.blank();
        d.table("skip", false);
        for (rung, reason) in &p.skip {
            d.key(rung.as_str(), Val::Str(reason.clone()), false);
        }
    }
    if !p.required_env.is_empty() {
        d.blank();
        d.comment("Required env: uncommented in .env.sample without a value the CI can use (see the notes). Give each a value:");
        d.table("env", true);
        for e in &p.required_env {
            d.comment(&format!("{} ({})", e.key, e.at));
            d.key(&e.key, Val::Str(String::new()), true);
        }
    }
    if !p.env_from_domain.is_empty() {
        d.blank();
        d.comment("Values that hold the sample's domain: each run gets its own.");
        d.table("env_from_domain", false);
        for (k, t, at) in &p.env_from_domain {
            d.comment(&format!("{k} ({at})"));
            d.key(k, Val::Str(t.clone()), false);
        }
    }
    let needs: Vec<_> = p.secrets.iter().filter(|s| s.needs_value).collect();
    if !needs.is_empty() {
        d.blank();
        d.comment("Secrets abra does not generate (generate=false): name the host secret holding each value (add it to secrets/secrets.yaml).");
        d.table("secret_values", true);
        for s in needs {
            d.key(&s.name, Val::Str(format!("{}_{}", p.name, s.name)), true);
        }
    }
    if !p.compose_allow.is_empty() {
        d.blank();
        d.comment("The compose policy refuses what follows; the run fails install unless each rule is allowed with a reason:");
        for v in p.compose_allow.values().flatten() {
            d.comment(&format!("  {v}"));
        }
        d.table("compose_allow", true);
        for rule in p.compose_allow.keys() {
            d.key(
                rule.as_str(),
                Val::Str("why this recipe needs it".into()),
                true,
            );
        }
    }
    d.items
}

/// The proposed file's text.
pub fn render(p: &Proposal) -> Result<String, minijinja::Error> {
    let env = crate::generate::templates::environment()?;
    crate::generate::templates::render(
        &env,
        "enroll/recipe.toml.j2",
        &serde_json::json!({ "items": items(p) }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_comments_wrap_and_indent() {
        let text = "word ".repeat(40);
        let lines = wrap(&text);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= WIDTH + 2));
        assert!(lines[1].starts_with("  word"));
        assert!(wrap("   ").is_empty());
    }
}

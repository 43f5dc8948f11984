//! What an update remembers between runs, in `.state/` under the site
//! directory: the runs already on the pages and, per recipe, its entries.
//! Losing it is harmless: the next update rebuilds everything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::DashboardError;
use super::model::{Entry, page_of};
use super::site::write_atomic;

/// Bumped when the state's shape changes; an old state means a rebuild.
pub const STATE_SCHEMA: u32 = 1;
pub const STATE_DIR: &str = ".state";

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct IndexState {
    pub schema: u32,
    /// Run directories (relative) already on the pages.
    pub seen: BTreeSet<String>,
    pub recipes: BTreeMap<String, RecipeMeta>,
    /// Corrupt runs whose recipe cannot be known.
    pub unreadable: Vec<Entry>,
}

/// What the index needs of a recipe without loading its history.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeMeta {
    pub latest: Option<Entry>,
    /// Start of its oldest run (unix seconds), 0 for none: whether the
    /// retention prunes anything.
    pub oldest: i64,
    pub first_page: u64,
}

impl RecipeMeta {
    pub fn of(rs: &RecipeState) -> RecipeMeta {
        RecipeMeta {
            latest: rs.latest().cloned(),
            oldest: rs
                .entries
                .iter()
                .map(|e| e.started)
                .filter(|t| *t != 0)
                .min()
                .unwrap_or(0),
            first_page: rs.entries.iter().map(|e| page_of(e.seq)).min().unwrap_or(1),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RecipeState {
    pub next_seq: u64,
    pub entries: Vec<Entry>,
}

impl RecipeState {
    /// The run that started last (the highest position on a tie).
    pub fn latest(&self) -> Option<&Entry> {
        self.entries.iter().max_by_key(|e| (e.started, e.seq))
    }
}

fn index_path(site: &Path) -> PathBuf {
    site.join(STATE_DIR).join("index.json")
}

fn recipe_path(site: &Path, recipe: &str) -> PathBuf {
    site.join(STATE_DIR)
        .join("r")
        .join(format!("{recipe}.json"))
}

fn load<T: DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn save<T: Serialize>(path: &Path, v: &T) -> Result<(), DashboardError> {
    let bytes = serde_json::to_vec(v).map_err(|e| DashboardError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    write_atomic(path, &bytes)
}

/// The index state, or `None` when missing, unreadable or of another schema.
pub fn load_index(site: &Path) -> Option<IndexState> {
    load::<IndexState>(&index_path(site)).filter(|s| s.schema == STATE_SCHEMA)
}

pub fn save_index(site: &Path, st: &mut IndexState) -> Result<(), DashboardError> {
    st.schema = STATE_SCHEMA;
    save(&index_path(site), st)
}

pub fn load_recipe(site: &Path, recipe: &str) -> Option<RecipeState> {
    load(&recipe_path(site, recipe))
}

pub fn save_recipe(site: &Path, recipe: &str, rs: &RecipeState) -> Result<(), DashboardError> {
    save(&recipe_path(site, recipe), rs)
}

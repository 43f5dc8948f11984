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
/// 2: a recipe's history is kept per page, so an update reads and writes
/// only the pages it changes, never the whole history.
pub const STATE_SCHEMA: u32 = 2;
pub const STATE_DIR: &str = ".state";

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct IndexState {
    pub schema: u32,
    /// Run directories (relative) already on the pages.
    pub seen: Seen,
    pub recipes: BTreeMap<String, RecipeMeta>,
    /// Corrupt runs whose recipe cannot be known.
    pub unreadable: Vec<Entry>,
}

/// A set of run directories that stays small with thousands of builds:
/// build numbers (the names of Drone builds' directories) as ranges, other
/// directories by name. It is read and written on every update.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Inclusive, sorted, disjoint and non-adjacent ranges of build numbers.
    builds: Vec<(u64, u64)>,
    others: BTreeSet<String>,
}

/// A directory name that is a build number, spelt canonically (`57`, not `057`).
fn build_number(rel: &str) -> Option<u64> {
    let n: u64 = rel.parse().ok()?;
    (n.to_string() == rel).then_some(n)
}

impl Seen {
    /// The index of the first range ending at or after `n`.
    fn at(&self, n: u64) -> usize {
        self.builds.partition_point(|&(_, hi)| hi < n)
    }

    pub fn contains(&self, rel: &str) -> bool {
        match build_number(rel) {
            Some(n) => self.builds.get(self.at(n)).is_some_and(|&(lo, _)| lo <= n),
            None => self.others.contains(rel),
        }
    }

    pub fn insert(&mut self, rel: String) {
        let Some(n) = build_number(&rel) else {
            self.others.insert(rel);
            return;
        };
        if self.contains(&rel) {
            return;
        }
        let i = self.at(n);
        let joins_prev = i > 0 && self.builds[i - 1].1 + 1 == n;
        let joins_next = self.builds.get(i).is_some_and(|&(lo, _)| lo == n + 1);
        match (joins_prev, joins_next) {
            (true, true) => {
                self.builds[i - 1].1 = self.builds[i].1;
                self.builds.remove(i);
            }
            (true, false) => self.builds[i - 1].1 = n,
            (false, true) => self.builds[i].0 = n,
            (false, false) => self.builds.insert(i, (n, n)),
        }
    }

    pub fn remove(&mut self, rel: &str) {
        let Some(n) = build_number(rel) else {
            self.others.remove(rel);
            return;
        };
        if !self.contains(rel) {
            return;
        }
        let i = self.at(n);
        let (lo, hi) = self.builds[i];
        match (lo == n, hi == n) {
            (true, true) => {
                self.builds.remove(i);
            }
            (true, false) => self.builds[i].0 = n + 1,
            (false, true) => self.builds[i].1 = n - 1,
            (false, false) => {
                self.builds[i].1 = n - 1;
                self.builds.insert(i + 1, (n + 1, hi));
            }
        }
    }
}

/// What the index, the badge and an update need of a recipe without
/// loading its history.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeMeta {
    pub latest: Option<Entry>,
    /// Start of its oldest run (unix seconds), 0 for none: whether the
    /// retention prunes anything.
    pub oldest: i64,
    pub first_page: u64,
    pub last_page: u64,
    /// The position the next run takes.
    pub next_seq: u64,
    /// Runs on the pages.
    pub count: usize,
}

/// The later of two runs: the one that started last (the higher position on a tie).
fn later<'a>(a: Option<&'a Entry>, b: &'a Entry) -> &'a Entry {
    match a {
        Some(a) if (a.started, a.seq) >= (b.started, b.seq) => a,
        _ => b,
    }
}

impl RecipeMeta {
    /// The meta of a whole history.
    pub fn of_all<'a>(next_seq: u64, entries: impl Iterator<Item = &'a Entry>) -> RecipeMeta {
        let mut m = RecipeMeta {
            next_seq,
            ..RecipeMeta::default()
        };
        for e in entries {
            m.add(e);
        }
        m.first_page = m.first_page.max(1);
        m.last_page = m.last_page.max(1);
        m
    }

    /// Count one more run in.
    pub fn add(&mut self, e: &Entry) {
        let page = page_of(e.seq);
        if self.count == 0 {
            self.first_page = page;
            self.last_page = page;
        } else {
            self.first_page = self.first_page.min(page);
            self.last_page = self.last_page.max(page);
        }
        self.count += 1;
        self.latest = Some(later(self.latest.as_ref(), e).clone());
        if e.started != 0 && (self.oldest == 0 || e.started < self.oldest) {
            self.oldest = e.started;
        }
    }
}

/// A recipe's history, one file per page under `.state/r/<recipe>/`, read
/// on demand and written back only for the pages that changed.
pub struct History {
    dir: PathBuf,
    pages: BTreeMap<u64, Vec<Entry>>,
    changed: BTreeSet<u64>,
}

/// A page file that is there but cannot be read: the state is damaged.
#[derive(Debug)]
pub struct Damaged;

impl History {
    pub fn new(site: &Path, recipe: &str) -> History {
        History {
            dir: site.join(STATE_DIR).join("r").join(recipe),
            pages: BTreeMap::new(),
            changed: BTreeSet::new(),
        }
    }

    fn page_path(&self, page: u64) -> PathBuf {
        self.dir.join(format!("{page}.json"))
    }

    /// The runs on `page` (empty when it has none).
    pub fn page(&mut self, page: u64) -> Result<&mut Vec<Entry>, Damaged> {
        if !self.pages.contains_key(&page) {
            let path = self.page_path(page);
            let entries = match std::fs::read(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| Damaged)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(_) => return Err(Damaged),
            };
            self.pages.insert(page, entries);
        }
        Ok(self.pages.entry(page).or_default())
    }

    /// Mark a page as changed, to be written back.
    pub fn touch(&mut self, page: u64) {
        self.changed.insert(page);
    }

    pub fn push(&mut self, e: Entry) -> Result<(), Damaged> {
        let page = page_of(e.seq);
        self.page(page)?.push(e);
        self.touch(page);
        Ok(())
    }

    /// Every loaded run.
    pub fn loaded(&self) -> impl Iterator<Item = &Entry> {
        self.pages.values().flatten()
    }

    /// Write the changed pages (an empty page's file is removed).
    pub fn save(&self) -> Result<(), DashboardError> {
        for p in &self.changed {
            let path = self.page_path(*p);
            match self.pages.get(p).filter(|e| !e.is_empty()) {
                Some(entries) => save(&path, entries)?,
                None => match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(DashboardError::Io {
                            path: path.display().to_string(),
                            source,
                        });
                    }
                },
            }
        }
        Ok(())
    }
}

/// Forget every recipe's history (a rebuild writes it anew).
pub fn clear_histories(site: &Path) -> Result<(), DashboardError> {
    let dir = site.join(STATE_DIR).join("r");
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DashboardError::Io {
            path: dir.display().to_string(),
            source,
        }),
    }
}

fn index_path(site: &Path) -> PathBuf {
    site.join(STATE_DIR).join("index.json")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::model::{Outcome, PAGE_SIZE};

    fn entry(seq: u64, started: i64) -> Entry {
        Entry {
            rel: format!("{seq}"),
            seq,
            started,
            outcome: Outcome::Corrupt { error: "x".into() },
        }
    }

    #[test]
    fn seen_builds_are_ranges_and_other_runs_names() {
        let mut s = Seen::default();
        for n in [5, 7, 6, 9, 1] {
            s.insert(n.to_string());
        }
        s.insert("keycloak/3fa9".into());
        s.insert("007".into());
        assert_eq!(s.builds, [(1, 1), (5, 7), (9, 9)]);
        assert!(s.contains("6") && s.contains("007") && s.contains("keycloak/3fa9"));
        assert!(!s.contains("8") && !s.contains("06") && !s.contains("2"));
        s.insert("8".into());
        assert_eq!(s.builds, [(1, 1), (5, 9)]);
        s.remove("7");
        assert_eq!(s.builds, [(1, 1), (5, 6), (8, 9)]);
        s.remove("1");
        s.remove("5");
        s.remove("9");
        s.remove("100");
        assert_eq!(s.builds, [(6, 6), (8, 8)]);
        s.remove("007");
        assert!(!s.contains("007") && s.contains("6"));
    }

    #[test]
    fn meta_follows_the_runs_added() {
        let mut m = RecipeMeta::default();
        m.add(&entry(0, 100));
        m.add(&entry(PAGE_SIZE, 50));
        m.add(&entry(PAGE_SIZE + 1, 0));
        assert_eq!((m.first_page, m.last_page, m.count), (1, 2, 3));
        assert_eq!(m.oldest, 50, "an unknown start is not the oldest");
        assert_eq!(m.latest.as_ref().unwrap().seq, 0, "the latest started last");
        let all = [entry(3, 7), entry(4, 9)];
        let m = RecipeMeta::of_all(5, all.iter());
        assert_eq!((m.next_seq, m.count, m.latest.unwrap().seq), (5, 2, 4));
    }

    #[test]
    fn only_changed_pages_are_read_and_written() {
        let site = tempfile::tempdir().unwrap();
        let mut h = History::new(site.path(), "keycloak");
        h.push(entry(0, 1)).unwrap();
        h.push(entry(PAGE_SIZE, 2)).unwrap();
        h.save().unwrap();
        let dir = site.path().join(STATE_DIR).join("r/keycloak");
        let first = dir.join("1.json");
        std::fs::write(&first, "damaged, but never read").unwrap();
        let mut h = History::new(site.path(), "keycloak");
        h.push(entry(PAGE_SIZE + 1, 3)).unwrap();
        h.save().unwrap();
        assert_eq!(
            std::fs::read_to_string(&first).unwrap(),
            "damaged, but never read"
        );
        assert_eq!(h.page(2).unwrap().len(), 2);
        assert!(h.page(1).is_err(), "a damaged page is reported");
        assert!(h.page(9).unwrap().is_empty(), "a missing page is empty");
    }
}

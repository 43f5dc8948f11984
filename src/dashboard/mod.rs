//! The dashboard: a static site rendered from the runs directory. An index
//! with the latest run per recipe, a paged history per recipe, a page per
//! run, a badge (`<recipe>.svg`) and a JSON endpoint (`<recipe>.json`).
//!
//! [`update`] adds the runs that appeared since the last update and touches
//! only their recipes' files and the index; [`rebuild`] reads every run and
//! renders everything. Both prune runs older than the retention, from disk
//! and from the pages. What an update remembers lives in `.state/` in the
//! site directory (see [`state`]).

pub mod badge;
pub mod model;
pub mod render;
pub mod scan;
pub mod site;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use model::{Entry, page_of};
use render::{IndexRecipe, PageKind};
use scan::Found;
use site::Site;
pub use site::WriteLog;
use state::{History, IndexState, RecipeMeta};

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("rendering {what}: {source}")]
    Render {
        what: String,
        source: minijinja::Error,
    },
}

fn rendering(what: &str) -> impl FnOnce(minijinja::Error) -> DashboardError + '_ {
    move |source| DashboardError::Render {
        what: what.to_owned(),
        source,
    }
}

/// What to render from where.
#[derive(Debug, Clone)]
pub struct Options {
    pub runs_dir: PathBuf,
    pub site_dir: PathBuf,
    /// The enrolled recipes the index lists (with "no runs yet" when they
    /// have none); empty lists every recipe that has runs.
    pub recipes: Vec<String>,
    /// Runs that started longer ago than this are deleted; `None` keeps all.
    pub retention_secs: Option<u64>,
    /// Unix seconds: ages and the retention are measured from here.
    pub now: i64,
}

impl Options {
    fn cutoff(&self) -> Option<i64> {
        self.retention_secs.map(|r| {
            self.now
                .saturating_sub(i64::try_from(r).unwrap_or(i64::MAX))
        })
    }

    fn expired(&self, e: &Entry) -> bool {
        self.cutoff()
            .is_some_and(|c| e.started != 0 && e.started < c)
    }
}

/// What an update did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub log: WriteLog,
    /// Runs added to the pages.
    pub added: usize,
    /// Run directories deleted for being older than the retention.
    pub pruned: Vec<String>,
    /// True when an update found no state and rebuilt everything.
    pub rebuilt: bool,
}

/// Add the runs that appeared since the last update (a full [`rebuild`] when
/// there is no usable state yet, or when it is damaged).
pub fn update(opts: &Options) -> Result<Report, DashboardError> {
    let incremental = match state::load_index(&opts.site_dir) {
        Some(st) => incremental(opts, st)?,
        None => None,
    };
    match incremental {
        Some(r) => Ok(r),
        None => {
            let mut r = rebuild(opts)?;
            r.rebuilt = true;
            Ok(r)
        }
    }
}

/// An update from a loaded state; `None` when a history page is damaged.
/// Only the newest page of each recipe with new runs is read and written;
/// the whole history only when the retention prunes something from it.
fn incremental(opts: &Options, mut st: IndexState) -> Result<Option<Report>, DashboardError> {
    let env = crate::generate::templates::environment().map_err(rendering("templates"))?;
    let mut site = Site::new(&opts.site_dir);
    let mut report = Report::default();
    let mut fresh: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for rel in scan::candidates(&opts.runs_dir, |rel| st.seen.contains(rel)) {
        let Some(found) = scan::read_run(&opts.runs_dir, &rel) else {
            continue;
        };
        st.seen.insert(rel);
        report.added += 1;
        match found.recipe.clone() {
            Some(r) => fresh.entry(r).or_default().push(found),
            None => {
                put_run_page(&env, &mut site, None, &found)?;
                st.unreadable.push(found.entry);
            }
        }
    }
    let mut dirty: BTreeSet<String> = fresh.keys().cloned().collect();
    dirty.extend(
        st.recipes
            .iter()
            .filter(|(_, m)| opts.cutoff().is_some_and(|c| m.oldest != 0 && m.oldest < c))
            .map(|(r, _)| r.clone()),
    );
    dirty.extend(
        opts.recipes
            .iter()
            .filter(|r| !st.recipes.contains_key(*r))
            .cloned(),
    );
    prune_unreadable(opts, &mut st, &mut site, &mut report)?;
    for recipe in dirty {
        let before = st.recipes.get(&recipe).cloned().unwrap_or_default();
        let mut h = History::new(&opts.site_dir, &recipe);
        let mut touched = BTreeSet::new();
        let mut meta = before.clone();
        if opts
            .cutoff()
            .is_some_and(|c| before.oldest != 0 && before.oldest < c)
        {
            // Rare: something expired, so every page is read to find it.
            for p in before.first_page..=before.last_page {
                let Ok(page) = h.page(p) else { return Ok(None) };
                let (gone, keep): (Vec<Entry>, Vec<Entry>) = std::mem::take(page)
                    .into_iter()
                    .partition(|e| opts.expired(e));
                *page = keep;
                if !gone.is_empty() {
                    touched.insert(p);
                    h.touch(p);
                }
                for e in gone {
                    prune_run(opts, &mut site, Some(&recipe), &e, &mut report)?;
                    st.seen.remove(&e.rel);
                }
            }
            meta = RecipeMeta::of_all(before.next_seq, h.loaded());
        }
        let mut found = fresh.remove(&recipe).unwrap_or_default();
        found.sort_by(|a, b| (a.entry.started, &a.entry.rel).cmp(&(b.entry.started, &b.entry.rel)));
        for mut f in found {
            if opts.expired(&f.entry) {
                prune_run(opts, &mut site, Some(&recipe), &f.entry, &mut report)?;
                st.seen.remove(&f.entry.rel);
                continue;
            }
            f.entry.seq = meta.next_seq;
            meta.next_seq += 1;
            touched.insert(page_of(f.entry.seq));
            put_run_page(&env, &mut site, Some(&recipe), &f)?;
            meta.add(&f.entry);
            if h.push(f.entry).is_err() {
                return Ok(None);
            }
        }
        if render_recipe(&env, &mut site, &recipe, &mut h, &meta, &before, &touched)?.is_none() {
            return Ok(None);
        }
        h.save()?;
        st.recipes.insert(recipe.clone(), meta);
    }
    put_index(&env, &mut site, opts, &st)?;
    state::save_index(&opts.site_dir, &mut st)?;
    report.log = site.log;
    Ok(Some(report))
}

/// Read every run and render the whole site; files no longer rendered (a
/// pruned run's page, a recipe with no runs left) are removed.
pub fn rebuild(opts: &Options) -> Result<Report, DashboardError> {
    let env = crate::generate::templates::environment().map_err(rendering("templates"))?;
    let mut site = Site::new(&opts.site_dir);
    let mut report = Report::default();
    let mut st = IndexState::default();
    let mut by_recipe: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    let mut rendered: BTreeSet<String> = BTreeSet::new();
    for rel in scan::candidates(&opts.runs_dir, |_| false) {
        let Some(found) = scan::read_run(&opts.runs_dir, &rel) else {
            continue;
        };
        if opts.expired(&found.entry) {
            prune_run(
                opts,
                &mut site,
                found.recipe.as_deref(),
                &found.entry,
                &mut report,
            )?;
            continue;
        }
        st.seen.insert(rel);
        report.added += 1;
        match found.recipe.clone() {
            Some(r) => by_recipe.entry(r).or_default().push(found),
            None => {
                rendered.insert(put_run_page(&env, &mut site, None, &found)?);
                st.unreadable.push(found.entry);
            }
        }
    }
    for r in &opts.recipes {
        by_recipe.entry(r.clone()).or_default();
    }
    state::clear_histories(&opts.site_dir)?;
    for (recipe, mut found) in by_recipe {
        found.sort_by(|a, b| (a.entry.started, &a.entry.rel).cmp(&(b.entry.started, &b.entry.rel)));
        let mut h = History::new(&opts.site_dir, &recipe);
        let mut next_seq = 0;
        for mut f in found {
            f.entry.seq = next_seq;
            next_seq += 1;
            rendered.insert(put_run_page(&env, &mut site, Some(&recipe), &f)?);
            // Nothing is read from disk here: the histories were cleared.
            let _ = h.push(f.entry);
        }
        let meta = RecipeMeta::of_all(next_seq, h.loaded());
        let pages: BTreeSet<u64> = h.loaded().map(|e| page_of(e.seq)).collect();
        let owned = render_recipe(
            &env,
            &mut site,
            &recipe,
            &mut h,
            &meta,
            &RecipeMeta::default(),
            &pages,
        )?;
        rendered.extend(owned.unwrap_or_default());
        h.save()?;
        st.recipes.insert(recipe.clone(), meta);
    }
    rendered.insert(put_index(&env, &mut site, opts, &st)?);
    for dir in ["r", "unreadable"] {
        for f in site::files_under(&opts.site_dir, dir) {
            if !rendered.contains(&f) && !f.contains("/.") {
                site.remove(&f)?;
            }
        }
    }
    for f in root_files(&opts.site_dir) {
        if !rendered.contains(&f) {
            site.remove(&f)?;
        }
    }
    state::save_index(&opts.site_dir, &mut st)?;
    report.log = site.log;
    Ok(report)
}

/// Badges and endpoints at the site root.
fn root_files(site: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(site) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".svg") || n.ends_with(".json"))
        .collect()
}

fn put_run_page(
    env: &minijinja::Environment<'_>,
    site: &mut Site,
    recipe: Option<&str>,
    f: &Found,
) -> Result<String, DashboardError> {
    let path = render::run_page(recipe, &f.entry.rel);
    let html = render::run(env, recipe, &f.entry, f.results.as_ref(), &f.files)
        .map_err(rendering(&path))?;
    site.put(&path, html.as_bytes())?;
    Ok(path)
}

/// Render a recipe's front page, badge and endpoint, and the numbered pages
/// in `touched` (removing those left empty). Returns the files it owns now,
/// or `None` when a history page it needs is damaged.
fn render_recipe(
    env: &minijinja::Environment<'_>,
    site: &mut Site,
    recipe: &str,
    h: &mut History,
    meta: &RecipeMeta,
    before: &RecipeMeta,
    touched: &BTreeSet<u64>,
) -> Result<Option<Vec<String>>, DashboardError> {
    let (first, last) = (meta.first_page.max(1), meta.last_page.max(1));
    let mut pages: BTreeSet<u64> = touched.clone();
    // A new first page loses its link to the pruned page before it.
    if before.first_page != first {
        pages.insert(first);
    }
    let mut owned = Vec::new();
    for p in pages {
        let path = render::recipe_page(recipe, p);
        let Ok(entries) = h.page(p) else {
            return Ok(None);
        };
        if entries.is_empty() {
            site.remove(&path)?;
            continue;
        }
        let entries: Vec<&Entry> = entries.iter().collect();
        let html = render::history(env, recipe, PageKind::Numbered, p, (first, last), &entries)
            .map_err(rendering(&path))?;
        site.put(&path, html.as_bytes())?;
        owned.push(path);
    }
    let front = render::recipe_index(recipe);
    let Ok(newest) = h.page(last) else {
        return Ok(None);
    };
    let newest: Vec<&Entry> = newest.iter().collect();
    let html = render::history(env, recipe, PageKind::Front, last, (first, last), &newest)
        .map_err(rendering(&front))?;
    site.put(&front, html.as_bytes())?;
    let latest = meta.latest.as_ref();
    let svg = render::badge_file(recipe);
    site.put(&svg, badge::svg(&render::badge_of(latest)).as_bytes())?;
    let json = render::json_file(recipe);
    site.put(
        &json,
        render::endpoint(recipe, latest, meta.count).as_bytes(),
    )?;
    owned.extend([front, svg, json]);
    Ok(Some(owned))
}

fn put_index(
    env: &minijinja::Environment<'_>,
    site: &mut Site,
    opts: &Options,
    st: &IndexState,
) -> Result<String, DashboardError> {
    let names: Vec<&String> = if opts.recipes.is_empty() {
        st.recipes.keys().collect()
    } else {
        opts.recipes.iter().collect()
    };
    let recipes: Vec<IndexRecipe<'_>> = names
        .into_iter()
        .map(|n| IndexRecipe {
            name: n,
            latest: st.recipes.get(n).and_then(|m| m.latest.as_ref()),
        })
        .collect();
    let unreadable: Vec<&Entry> = st.unreadable.iter().collect();
    let at = OffsetDateTime::from_unix_timestamp(opts.now)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let html = render::index(env, &recipes, &unreadable, opts.now, &at)
        .map_err(rendering("index.html"))?;
    site.put("index.html", html.as_bytes())?;
    Ok("index.html".to_owned())
}

/// Delete an expired run: its directory in the runs directory and its page.
fn prune_run(
    opts: &Options,
    site: &mut Site,
    recipe: Option<&str>,
    e: &Entry,
    report: &mut Report,
) -> Result<(), DashboardError> {
    let dir = opts.runs_dir.join(&e.rel);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(DashboardError::Io {
                path: dir.display().to_string(),
                source,
            });
        }
    }
    site.remove(&render::run_page(recipe, &e.rel))?;
    report.pruned.push(e.rel.clone());
    Ok(())
}

fn prune_unreadable(
    opts: &Options,
    st: &mut IndexState,
    site: &mut Site,
    report: &mut Report,
) -> Result<(), DashboardError> {
    for e in std::mem::take(&mut st.unreadable) {
        if opts.expired(&e) {
            prune_run(opts, site, None, &e, report)?;
            st.seen.remove(&e.rel);
        } else {
            st.unreadable.push(e);
        }
    }
    Ok(())
}

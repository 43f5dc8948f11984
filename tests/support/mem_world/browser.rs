//! A scripted browser: pages by path with a title, text and elements; a
//! login form whose submit button checks a typed value against one of the
//! app's generated secrets. Every page opened is counted and must be closed
//! (dropped) again, as the real driver must be stopped.

use std::collections::BTreeMap;

use ccci::run::probe::ProbeConfig;
use ccci::run::world::{Browser, BrowserSetupError, Page};

use super::MemWorld;

/// One page of the scripted site.
#[derive(Debug, Clone, Default)]
pub struct FakePage {
    pub title: String,
    pub text: String,
    /// CSS selectors that match on this page.
    pub elements: Vec<String>,
    pub submit: Option<Submit>,
}

/// Clicking `button` compares what was typed into `field` with the app's
/// secret `secret`, and goes to `ok` or `bad`.
#[derive(Debug, Clone)]
pub struct Submit {
    pub button: String,
    pub field: String,
    pub secret: String,
    pub ok: String,
    pub bad: String,
}

struct MemPage<'a> {
    world: &'a MemWorld,
    domain: String,
    path: Option<String>,
    typed: BTreeMap<String, String>,
}

impl Drop for MemPage<'_> {
    fn drop(&mut self) {
        self.world.state().browsers_open -= 1;
    }
}

impl MemPage<'_> {
    fn page(&self) -> Result<FakePage, String> {
        let path = self.path.as_deref().ok_or("no page open")?;
        self.world
            .site
            .pages
            .get(path)
            .cloned()
            .ok_or_else(|| format!("net::ERR_HTTP_RESPONSE_CODE_FAILURE at {path}"))
    }
}

/// A PNG of `w`×`h`, one colour or with a painted band.
pub fn png(painted: bool) -> Vec<u8> {
    let (w, h) = (64u32, 32u32);
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().unwrap();
    let data: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            if painted && i / w < 10 {
                [30, 60, 200]
            } else {
                [255, 255, 255]
            }
        })
        .collect();
    wr.write_image_data(&data).unwrap();
    drop(wr);
    out
}

impl Page for MemPage<'_> {
    fn goto(&mut self, path: &str) -> Result<(), String> {
        self.path = Some(path.to_owned());
        self.typed.clear();
        self.page().map(|_| ())
    }
    fn fill(&mut self, css: &str, value: &str) -> Result<(), String> {
        if !self.page()?.elements.iter().any(|e| e == css) {
            return Err(format!("no such element: {css}"));
        }
        self.typed.insert(css.to_owned(), value.to_owned());
        self.world.state().typed.push(value.to_owned());
        Ok(())
    }
    fn click(&mut self, css: &str) -> Result<(), String> {
        let page = self.page()?;
        if !page.elements.iter().any(|e| e == css) {
            return Err(format!("no such element: {css}"));
        }
        if let Some(sub) = page.submit.filter(|s| s.button == css) {
            let stack = self.domain.replace('.', "_");
            let prefix = format!("{stack}_{}_", sub.secret);
            let right = self
                .world
                .state()
                .secrets
                .iter()
                .find(|(k, _)| k.starts_with(&prefix))
                .map(|(_, s)| s.value.clone());
            let typed = self.typed.get(&sub.field).cloned();
            self.path = Some(if typed.is_some() && typed == right {
                sub.ok
            } else {
                sub.bad
            });
            self.typed.clear();
        }
        Ok(())
    }
    fn has(&mut self, css: &str) -> Result<bool, String> {
        Ok(self.page()?.elements.iter().any(|e| e == css))
    }
    fn text(&mut self) -> Result<String, String> {
        Ok(self.page()?.text)
    }
    fn title(&mut self) -> Result<String, String> {
        Ok(self.page()?.title)
    }
    fn url(&mut self) -> Result<String, String> {
        Ok(format!(
            "https://{}{}",
            self.domain,
            self.path.as_deref().unwrap_or("")
        ))
    }
    fn loaded(&mut self) -> Result<bool, String> {
        self.page().map(|_| true)
    }
    fn screenshot(&mut self) -> Result<Vec<u8>, String> {
        let mut s = self.world.state();
        if s.blank_captures_left > 0 {
            s.blank_captures_left -= 1;
            return Ok(png(false));
        }
        Ok(png(true))
    }
}

impl Browser for MemWorld {
    fn open<'a>(
        &'a self,
        _config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn Page + 'a>, BrowserSetupError> {
        if self.knobs.no_browser {
            return Err(BrowserSetupError::Driver(
                "chromedriver: No such file or directory (install chromedriver or set CCCI_CHROMEDRIVER)"
                    .into(),
            ));
        }
        let mut s = self.state();
        s.browsers_open += 1;
        s.browsers_opened += 1;
        drop(s);
        Ok(Box::new(MemPage {
            world: self,
            domain: domain.to_owned(),
            path: None,
            typed: BTreeMap::new(),
        }))
    }
}

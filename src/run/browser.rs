//! Browser checks and the landing-page screenshot (docs/browser.md). The
//! decisions live here — what a step means, how long to wait, when a capture
//! is blank, what is reported — over a [`Page`] that only performs; a world
//! supplies the page (Chromium over WebDriver, or a scripted model).

use std::path::Path;
use std::time::Duration;

use super::platform::AppRef;
use super::steps::RunCtx;
use super::world::{BrowserSetupError, Page};
use crate::names::files;
use crate::registry::{BrowserCheck, BrowserStep};
use crate::results::Status;

/// How often a wait looks at the page again.
pub const STEP_POLL: Duration = Duration::from_millis(200);
/// How long a step may wait for its element, text, title or URL: as long
/// as a page may take to load (the plan's HTTP timeout), at least a second.
fn step_wait(ctx: &RunCtx<'_>) -> Duration {
    ctx.probe.request_timeout.max(Duration::from_secs(1))
}
/// The landing screenshot gives up (and records nothing) after this.
pub const SCREENSHOT_BUDGET: Duration = Duration::from_secs(60);
/// Time for the network to settle once the document has loaded.
pub const SETTLE: Duration = Duration::from_millis(300);

/// What one browser check proved.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckVerdict {
    pub status: Status,
    /// The step, the URL and why, or what passed.
    pub detail: String,
    /// The failure screenshot's file name in the run's output directory.
    pub screenshot: Option<String>,
}

/// A PNG counts as blank when fewer than this share of its pixels differ
/// from the first one: a page that has not painted yet is one colour, while
/// one line of dark text on white already differs in thousands of pixels.
const BLANK_SHARE: f64 = 0.0005;

/// Whether a PNG is (nearly) one colour, or not a PNG at all.
pub fn is_blank(png_bytes: &[u8]) -> bool {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let Ok(mut reader) = decoder.read_info() else {
        return true;
    };
    let Some(size) = reader.output_buffer_size() else {
        return true;
    };
    let mut buf = vec![0; size];
    let Ok(info) = reader.next_frame(&mut buf) else {
        return true;
    };
    let bpp = info.color_type.samples() * usize::from(info.bit_depth as u8).div_ceil(8);
    let mut pixels = buf[..info.buffer_size()].chunks_exact(bpp.max(1));
    let Some(first) = pixels.next() else {
        return true;
    };
    let total = pixels.len() + 1;
    let differing = pixels.filter(|p| p != &first).count();
    (differing as f64) < BLANK_SHARE * total as f64
}

/// Replace every secret value in `text` so it can be shown.
pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "[secret]"))
}

/// Read a secret of the app from inside one of its services.
fn read_secret(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    service: &str,
    secret: &str,
) -> Result<String, String> {
    let path = crate::generate::escape::sh_quote(&format!("/run/secrets/{secret}"))
        .map_err(|e| format!("secret {secret}: {e}"))?;
    ctx.platform()
        .exec(app, service, &format!("cat {path}"))
        .map(|v| v.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|_| format!("cannot read secret {secret} from service {service}"))
}

/// Wait on the world's clock until `probe` says yes, for at most `budget`.
fn wait_until(
    ctx: &RunCtx<'_>,
    page: &mut dyn Page,
    budget: Duration,
    probe: &mut dyn FnMut(&mut dyn Page) -> Result<bool, String>,
) -> Result<bool, String> {
    let start = ctx.now();
    loop {
        if probe(page)? {
            return Ok(true);
        }
        if ctx.world.clock().now().saturating_duration_since(start) >= budget {
            return Ok(false);
        }
        ctx.world.clock().sleep(STEP_POLL);
    }
}

/// Run one step; `Err` says why it failed (already redacted by the caller).
fn step(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    page: &mut dyn Page,
    s: &BrowserStep,
    secrets: &mut Vec<String>,
) -> Result<(), String> {
    let wait = step_wait(ctx);
    let waited = |found: bool, what: &str| {
        if found {
            Ok(())
        } else {
            Err(format!("{what} after {}s", wait.as_secs()))
        }
    };
    match s {
        BrowserStep::Goto(p) => page.goto(p.as_str()),
        BrowserStep::Fill { css, value } => {
            let f = wait_until(ctx, page, wait, &mut |p| p.has(css))?;
            waited(f, "no element matches")?;
            page.fill(css, value)
        }
        BrowserStep::FillSecret {
            css,
            secret,
            service,
        } => {
            let f = wait_until(ctx, page, wait, &mut |p| p.has(css))?;
            waited(f, "no element matches")?;
            let v = read_secret(ctx, app, service.as_str(), secret.as_str())?;
            secrets.push(v.clone());
            page.fill(css, &v)
        }
        // A click or fill right after a navigation waits for its element.
        BrowserStep::Click(css) => {
            let f = wait_until(ctx, page, wait, &mut |p| p.has(css))?;
            waited(f, "no element matches")?;
            page.click(css)
        }
        BrowserStep::WaitFor(css) => {
            let f = wait_until(ctx, page, wait, &mut |p| p.has(css))?;
            waited(f, "no element matches")
        }
        BrowserStep::WaitForText(t) | BrowserStep::ExpectText(t) => {
            let f = wait_until(ctx, page, wait, &mut |p| Ok(p.text()?.contains(t.as_str())))?;
            waited(f, "the page does not show the text")
        }
        BrowserStep::ExpectTitle(t) => {
            let mut last = String::new();
            let f = wait_until(ctx, page, wait, &mut |p| {
                last = p.title()?;
                Ok(last.contains(t.as_str()))
            })?;
            waited(f, &format!("the title is {last:?}"))
        }
        BrowserStep::ExpectUrl(u) => {
            let f = wait_until(ctx, page, wait, &mut |p| Ok(p.url()?.contains(u.as_str())))?;
            waited(f, "the URL does not contain it")
        }
    }
}

/// The steps a check stands for: open its page, wait for its selector, look
/// for its text, then its flow.
pub fn steps_of(check: &BrowserCheck) -> Vec<BrowserStep> {
    let mut v = vec![BrowserStep::Goto(check.path.clone())];
    if let Some(css) = &check.selector {
        v.push(BrowserStep::WaitFor(css.clone()));
    }
    if let Some(t) = &check.expect_text {
        v.push(BrowserStep::ExpectText(t.clone()));
    }
    v.extend(check.steps.iter().cloned());
    v
}

/// Run one declared check in a fresh browser. A browser that cannot start
/// leaves the check unverified; a failing step fails it, with the step, the
/// page URL and a screenshot saved into `out`.
pub fn run_check(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    index: usize,
    check: &BrowserCheck,
    out: &Path,
) -> CheckVerdict {
    let mut page = match ctx.world.browser().open(&ctx.probe, &app.domain) {
        Ok(p) => p,
        Err(e) => return unverified(&e),
    };
    let mut secrets = Vec::new();
    let steps = steps_of(check);
    for (n, s) in steps.iter().enumerate() {
        if let Err(why) = step(ctx, app, page.as_mut(), s, &mut secrets) {
            let url = page.url().unwrap_or_else(|e| format!("unknown ({e})"));
            let shot = page.screenshot().ok().and_then(|png| {
                let name = files::browser_failure_screenshot(index);
                std::fs::write(out.join(&name), png).ok().map(|()| name)
            });
            let detail = format!(
                "step {} of {} ({}) failed at {url}: {why}",
                n + 1,
                steps.len(),
                s.describe()
            );
            return CheckVerdict {
                status: Status::Fail,
                detail: redact(&detail, &secrets),
                screenshot: shot,
            };
        }
    }
    CheckVerdict {
        status: Status::Pass,
        detail: format!("{} step(s) passed", steps.len()),
        screenshot: None,
    }
}

fn unverified(e: &BrowserSetupError) -> CheckVerdict {
    CheckVerdict {
        status: Status::Unverified,
        detail: e.to_string(),
        screenshot: None,
    }
}

/// Capture the landing page into `out/screenshot.png`: wait for the load, let
/// the network settle, retry blank captures, all within `budget`. Best
/// effort: `None` on any failure, never a verdict.
pub fn landing_screenshot(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    out: &Path,
    budget: Duration,
) -> Option<String> {
    let clock = ctx.world.clock();
    let start = clock.now();
    let left = || budget.saturating_sub(clock.now().saturating_duration_since(start));
    let mut page = ctx.world.browser().open(&ctx.probe, &app.domain).ok()?;
    page.goto("/").ok()?;
    while !page.loaded().unwrap_or(false) {
        if left().is_zero() {
            return None;
        }
        clock.sleep(STEP_POLL);
    }
    clock.sleep(SETTLE);
    loop {
        if let Ok(png) = page.screenshot()
            && !is_blank(&png)
        {
            let name = files::LANDING_SCREENSHOT;
            return std::fs::write(out.join(name), png)
                .ok()
                .map(|()| name.to_owned());
        }
        if left() < STEP_POLL {
            return None;
        }
        clock.sleep(STEP_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, paint: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .flat_map(|(x, y)| paint(x, y))
            .collect();
        wr.write_image_data(&data).unwrap();
        drop(wr);
        out
    }

    #[test]
    fn one_colour_is_blank_and_a_painted_page_is_not() {
        assert!(is_blank(&png(200, 100, |_, _| [255, 255, 255])));
        assert!(!is_blank(&png(200, 100, |_, y| if y < 30 {
            [20, 40, 200]
        } else {
            [255, 255, 255]
        })));
        assert!(is_blank(b"not a png"));
        // One short line of text on a large white page is not blank.
        assert!(!is_blank(&png(1280, 800, |x, y| {
            if (20..40).contains(&y) && (20..420).contains(&x) && x % 3 == 0 {
                [0, 0, 0]
            } else {
                [255, 255, 255]
            }
        })));
    }

    #[test]
    fn a_secret_is_redacted_wherever_it_appears() {
        let s = vec!["hunter2".to_owned(), String::new()];
        assert_eq!(
            redact("typed hunter2 at /x?p=hunter2", &s),
            "typed [secret] at /x?p=[secret]"
        );
    }

    #[test]
    fn a_check_opens_its_page_then_waits_then_looks_then_runs_its_flow() {
        let check = BrowserCheck {
            name: "n".into(),
            path: "/admin".parse().unwrap(),
            expect_text: Some("Sign in".into()),
            selector: Some("#login".into()),
            screenshot: false,
            steps: vec![BrowserStep::Click("#go".into())],
        };
        let d: Vec<String> = steps_of(&check).iter().map(BrowserStep::describe).collect();
        assert_eq!(
            d,
            [
                "goto /admin",
                "wait_for #login",
                "expect_text \"Sign in\"",
                "click #go"
            ]
        );
    }
}

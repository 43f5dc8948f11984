//! Browser checks and the landing screenshot. Most scenarios run over the
//! in-memory world's scripted browser (milliseconds); a few drive real
//! Chromium through chromedriver against a local HTTPS site whose test CA
//! the browser trusts through its own NSS store — the point of those tests
//! is the real program, so they are few and share one run where they can.

#[path = "support/browser_site.rs"]
mod browser_site;
#[path = "support/mem_fixture.rs"]
mod mem_fixture;
#[path = "support/mem_world/mod.rs"]
mod mem_world;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccci::registry::{BrowserCheck, BrowserStep, LaneMode, Rung};
use ccci::results::{CheckResult, Lane, ResultsV1, Status};
use ccci::run::browser::is_blank;
use ccci::run::probe::ProbeConfig;
use ccci::run::production::SystemClock;
use ccci::run::progress::Progress;
use ccci::run::webdriver::ChromeBrowser;
use ccci::run::world::{
    Browser, BrowserSetupError, Clock, Git, Page, Platform, Processes, Web, World,
};
use mem_fixture::{CI, Scenario, compose, pr_head, release};
use mem_world::{FakePage, MemWorld, Submit};

// ---- shared --------------------------------------------------------------------

fn check(
    name: &str,
    path: &str,
    expect_text: Option<&str>,
    steps: Vec<BrowserStep>,
) -> BrowserCheck {
    BrowserCheck {
        name: name.into(),
        path: path.parse().unwrap(),
        expect_text: expect_text.map(Into::into),
        selector: None,
        screenshot: true,
        steps,
    }
}

fn login_steps(password: BrowserStep) -> Vec<BrowserStep> {
    vec![
        BrowserStep::Fill {
            css: "#username".into(),
            value: "admin".into(),
        },
        password,
        BrowserStep::Click("#kc-login".into()),
        BrowserStep::ExpectText("Welcome to the admin console".into()),
    ]
}

fn secret_step() -> BrowserStep {
    BrowserStep::FillSecret {
        css: "#password".into(),
        secret: "admin_password".parse().unwrap(),
        service: "app".parse().unwrap(),
    }
}

fn wrong_step() -> BrowserStep {
    BrowserStep::Fill {
        css: "#password".into(),
        value: "not-the-password".into(),
    }
}

/// A recipe whose head declares the `admin_password` secret.
fn scenario_with_admin_password() -> Scenario {
    let head = format!(
        "{}secrets:\n  admin_password:\n    external: true\n    name: ${{STACK_NAME}}_admin_password_${{SECRET_ADMIN_PASSWORD_VERSION}}\n",
        compose("1.2.0+1.27", "content", "DOMAIN")
    );
    Scenario::new(vec![release("1.1.0+1.27")], pr_head(head))
}

fn browser_check<'r>(r: &'r ResultsV1, name: &str) -> &'r CheckResult {
    r.checks
        .iter()
        .find(|c| c.name == format!("browser: {name}"))
        .unwrap_or_else(|| panic!("no check {name}: {:?}", r.checks))
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every byte the run left in its output directory, and what it printed.
fn all_output(dir: &Path, printed: &Lines, r: &ResultsV1) -> Vec<u8> {
    let mut all = serde_json::to_vec(r).unwrap();
    all.extend_from_slice(&printed.0.lock().unwrap());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_file() {
                all.extend(std::fs::read(e.path()).unwrap());
            }
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn admin_password(mem: &MemWorld) -> String {
    mem.state()
        .generated
        .iter()
        .find(|(name, _)| name.contains("_admin_password_"))
        .map(|(_, v)| v.clone())
        .expect("admin_password generated")
}

// ---- in memory -----------------------------------------------------------------

fn login_site(sc: &mut Scenario) {
    let el = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    sc.world.site.pages.insert(
        "/login".into(),
        FakePage {
            title: "Sign in".into(),
            text: "Sign in".into(),
            elements: el(&["#username", "#password", "#kc-login"]),
            submit: Some(Submit {
                button: "#kc-login".into(),
                field: "#password".into(),
                secret: "admin_password".into(),
                ok: "/console".into(),
                bad: "/login-failed".into(),
            }),
        },
    );
    for (path, title, text) in [
        ("/console", "Admin console", "Welcome to the admin console"),
        ("/login-failed", "Sign in", "Invalid username or password."),
    ] {
        sc.world.site.pages.insert(
            path.into(),
            FakePage {
                title: title.into(),
                text: text.into(),
                ..FakePage::default()
            },
        );
    }
}

#[test]
fn a_declared_page_passes_and_the_landing_page_is_captured() {
    let mut sc = Scenario::new(
        vec![release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
    );
    sc.plan.browser = vec![check("front page", "/", Some("custom-html"), Vec::new())];
    let (r, _) = sc.run(LaneMode::Sequential);
    assert_eq!(
        r.rungs[&Rung::Install].status,
        Status::Pass,
        "{:?}",
        r.rungs
    );
    let c = browser_check(&r, "front page");
    assert_eq!(
        (c.status, c.screenshot.clone()),
        (Status::Pass, None),
        "{c:?}"
    );
    assert_eq!(
        r.lanes[&Lane::Fresh].screenshot.as_deref(),
        Some("screenshot.png")
    );
    assert!(!is_blank(
        &std::fs::read(sc.out_dir().join("screenshot.png")).unwrap()
    ));
    let s = sc.world.state();
    assert_eq!(
        (s.browsers_open, s.browsers_opened),
        (0, 2),
        "every browser closed"
    );
}

#[test]
fn a_wrong_password_fails_at_its_step_with_url_and_screenshot_and_the_secret_stays_hidden() {
    let mut sc = scenario_with_admin_password();
    login_site(&mut sc);
    sc.plan.browser = vec![
        check(
            "admin login",
            "/login",
            Some("Sign in"),
            login_steps(secret_step()),
        ),
        check("wrong password", "/login", None, login_steps(wrong_step())),
    ];
    let printed = Lines::default();
    let (r, _) = sc.run_with(
        LaneMode::Sequential,
        Progress::to(Box::new(printed.clone())),
    );
    assert_eq!(browser_check(&r, "admin login").status, Status::Pass);
    let bad = browser_check(&r, "wrong password");
    assert_eq!(bad.status, Status::Fail);
    assert!(
        bad.detail.starts_with(
            "step 5 of 5 (expect_text \"Welcome to the admin console\") failed at https://"
        ) && bad.detail.contains("/login-failed"),
        "{}",
        bad.detail
    );
    assert_eq!(bad.screenshot.as_deref(), Some("browser-2.png"));
    assert!(sc.out_dir().join("browser-2.png").is_file());
    assert_eq!(r.rungs[&Rung::Install].status, Status::Fail);
    // The secret was really typed, and shows nowhere.
    let pw = admin_password(&sc.world);
    assert!(sc.world.state().typed.contains(&pw));
    assert!(!contains(&all_output(&sc.out_dir(), &printed, &r), &pw));
}

#[test]
fn a_secret_planted_in_a_check_name_reaches_no_file_name_and_no_artifact() {
    let mut sc = scenario_with_admin_password();
    login_site(&mut sc);
    // The host's secrets directory, with the token the masker starts from.
    let secrets = tempfile::tempdir().unwrap();
    let token = "gt-4f1c9a07d2e8b3a6c5d4e3f2a1b0c9d8";
    let token_file = secrets.path().join("gitea_token");
    std::fs::write(&token_file, token).unwrap();
    sc.plan.token_file = token_file.to_str().unwrap().parse().unwrap();
    let name = format!("login/../as {token} *?");
    sc.plan.browser = vec![check(&name, "/login", None, login_steps(wrong_step()))];
    // As `ccci run` does: progress lines through the run's masker, the
    // results sealed (masked, written, scanned) at the end.
    let masker = ccci::run::leak::masker_for(&sc.plan);
    let printed = Lines::default();
    let progress = Progress::to(Box::new(printed.clone())).with_masker(masker.clone());
    let (mut r, mut lint) = sc.run_with(LaneMode::Sequential, progress.clone());
    let clean = ccci::run::leak::write_sealed(&sc.out_dir(), &mut r, &mut lint, &masker, &progress)
        .unwrap();
    // The name held a secret: that is a leak, caught and redacted.
    assert!(!clean, "the leak scan missed the token in a check name");
    let r = ResultsV1::read(&sc.out_dir().join("results.json")).unwrap();
    let bad = r
        .checks
        .iter()
        .find(|c| c.name.starts_with("browser: "))
        .expect("the browser check is recorded");
    assert_eq!(bad.status, Status::Fail);
    assert!(!bad.name.contains(token), "{}", bad.name);
    // Its screenshot is named by its place, never by its free-text name.
    assert_eq!(bad.screenshot.as_deref(), Some("browser-1.png"));
    let names: Vec<String> = std::fs::read_dir(sc.out_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"browser-1.png".to_owned()), "{names:?}");
    for n in &names {
        assert!(
            !n.contains(token) && !n.contains("..") && !n.contains(' '),
            "{n}"
        );
    }
    assert!(!contains(&all_output(&sc.out_dir(), &printed, &r), token));
}

#[test]
fn a_missing_driver_leaves_the_check_unverified_never_passed() {
    let mut sc = Scenario::new(
        vec![release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
    );
    sc.world.knobs.no_browser = true;
    sc.plan.browser = vec![check("front page", "/", Some("custom-html"), Vec::new())];
    let (r, _) = sc.run(LaneMode::Sequential);
    let c = browser_check(&r, "front page");
    assert_eq!(c.status, Status::Unverified);
    assert!(c.detail.contains("chromedriver"), "{}", c.detail);
    assert_eq!(r.rungs[&Rung::Install].status, Status::Unverified);
    assert!(!r.green);
    assert_eq!(r.lanes[&Lane::Fresh].screenshot, None);
}

#[test]
fn blank_captures_are_retried_and_a_page_that_never_paints_records_no_screenshot() {
    for (blank, expect) in [(3, Some("screenshot.png")), (100_000, None)] {
        let mut sc = Scenario::new(
            vec![release("1.1.0+1.27")],
            pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
        );
        sc.world.state().blank_captures_left = blank;
        sc.plan.browser = vec![check("front page", "/", None, Vec::new())];
        let (r, _) = sc.run(LaneMode::Sequential);
        assert_eq!(r.lanes[&Lane::Fresh].screenshot.as_deref(), expect);
        // Best effort: the verdict does not depend on it.
        assert_eq!(r.rungs[&Rung::Install].status, Status::Pass);
    }
}

// ---- real Chromium -------------------------------------------------------------

/// The in-memory host with a real browser: the app's generated admin
/// password is what the site accepts, and waits take real time.
struct ChromeOverMem<'a> {
    mem: &'a MemWorld,
    chrome: ChromeBrowser,
    accepts: Arc<Mutex<String>>,
}

impl World for ChromeOverMem<'_> {
    fn platform(&self) -> &dyn Platform {
        self.mem
    }
    fn git(&self) -> &dyn Git {
        self.mem
    }
    fn web(&self) -> &dyn Web {
        self.mem
    }
    fn browser(&self) -> &dyn Browser {
        self
    }
    fn processes(&self) -> &dyn Processes {
        self.mem
    }
    fn clock(&self) -> &dyn Clock {
        &SystemClock
    }
}

impl Browser for ChromeOverMem<'_> {
    fn open<'a>(
        &'a self,
        config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn Page + 'a>, BrowserSetupError> {
        let prefix = format!("{}_admin_password_", domain.replace('.', "_"));
        if let Some((_, s)) = self
            .mem
            .state()
            .secrets
            .iter()
            .find(|(k, _)| k.starts_with(&prefix))
        {
            *self.accepts.lock().unwrap() = s.value.clone();
        }
        self.chrome.open(config, domain)
    }
}

fn chrome(scratch: &Path) -> ChromeBrowser {
    ChromeBrowser {
        driver: std::env::var_os("CCCI_CHROMEDRIVER")
            .map_or_else(|| PathBuf::from("chromedriver"), PathBuf::from),
        chromium: std::env::var_os("CCCI_CHROMIUM").map(PathBuf::from),
        scratch: scratch.to_owned(),
    }
}

/// Processes whose HOME lies under `scratch`: chromedriver and every
/// Chromium process it started inherit the page's HOME.
fn processes_under(scratch: &Path) -> Vec<String> {
    let needle = format!("HOME={}", scratch.display());
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env
            .split(|b| *b == 0)
            .any(|v| v.starts_with(needle.as_bytes()))
        {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            found.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
        }
    }
    found
}

fn probe(site: &browser_site::BrowserSite, timeout: Duration) -> ProbeConfig {
    ProbeConfig {
        connect: site.addr,
        extra_ca_pem: Some(site.ca_pem.clone().into_bytes()),
        request_timeout: timeout,
    }
}

#[test]
fn chromium_logs_in_with_the_secret_fails_a_wrong_password_and_leaves_nothing_running() {
    let site = browser_site::BrowserSite::start(CI);
    let scratch = tempfile::tempdir().unwrap();
    let mut sc = scenario_with_admin_password();
    sc.plan.browser = vec![
        check("admin login", "/login", Some("Sign in"), {
            let mut s = login_steps(secret_step());
            s.push(BrowserStep::ExpectTitle("Admin console".into()));
            s.push(BrowserStep::ExpectUrl("/session".into()));
            s
        }),
        check("wrong password", "/login", None, login_steps(wrong_step())),
    ];
    let world = ChromeOverMem {
        mem: &sc.world,
        chrome: chrome(scratch.path()),
        accepts: site.password.clone(),
    };
    let printed = Lines::default();
    let (r, _) = sc.run_in(
        &world,
        probe(&site, Duration::from_secs(6)),
        LaneMode::Sequential,
        Progress::to(Box::new(printed.clone())),
    );
    let good = browser_check(&r, "admin login");
    assert_eq!(good.status, Status::Pass, "{}", good.detail);
    let bad = browser_check(&r, "wrong password");
    assert_eq!(bad.status, Status::Fail);
    assert!(
        bad.detail.contains("step 5 of 5 (expect_text")
            && bad.detail.contains(&format!(".{CI}/session")),
        "{}",
        bad.detail
    );
    let shot = std::fs::read(sc.out_dir().join(bad.screenshot.as_deref().unwrap())).unwrap();
    assert!(!is_blank(&shot), "the failure screenshot shows the page");
    // The landing page paints 600 ms after load: the capture waits for it.
    assert_eq!(
        r.lanes[&Lane::Fresh].screenshot.as_deref(),
        Some("screenshot.png")
    );
    assert!(!is_blank(
        &std::fs::read(sc.out_dir().join("screenshot.png")).unwrap()
    ));

    let pw = admin_password(&sc.world);
    assert!(!pw.is_empty() && !contains(&all_output(&sc.out_dir(), &printed, &r), &pw));
    assert_eq!(processes_under(scratch.path()), Vec::<String>::new());
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "profiles removed"
    );
}

#[test]
fn chromium_bounds_a_page_that_never_loads_and_a_missing_driver_is_unverified() {
    let site = browser_site::BrowserSite::start(CI);
    let scratch = tempfile::tempdir().unwrap();
    let mut sc = Scenario::new(
        vec![release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
    );
    sc.plan.browser = vec![check("hangs", "/hang", Some("never"), Vec::new())];
    let world = ChromeOverMem {
        mem: &sc.world,
        chrome: chrome(scratch.path()),
        accepts: site.password.clone(),
    };
    let t = Instant::now();
    let (r, _) = sc.run_in(
        &world,
        probe(&site, Duration::from_secs(2)),
        LaneMode::Sequential,
        Progress::silent(),
    );
    let c = browser_check(&r, "hangs");
    assert_eq!(c.status, Status::Fail, "{}", c.detail);
    assert!(
        c.detail.starts_with("step 1 of 2 (goto /hang) failed at"),
        "{}",
        c.detail
    );
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "bounded: {:?}",
        t.elapsed()
    );
    assert_eq!(processes_under(scratch.path()), Vec::<String>::new());

    let world = ChromeOverMem {
        mem: &sc.world,
        chrome: ChromeBrowser {
            driver: scratch.path().join("no-chromedriver"),
            ..chrome(scratch.path())
        },
        accepts: site.password.clone(),
    };
    let (r, _) = sc.run_in(
        &world,
        probe(&site, Duration::from_secs(2)),
        LaneMode::Sequential,
        Progress::silent(),
    );
    let c = browser_check(&r, "hangs");
    assert_eq!(c.status, Status::Unverified);
    assert!(
        c.detail.contains("no-chromedriver") && c.detail.contains("install chromedriver"),
        "{}",
        c.detail
    );
    assert_eq!(r.rungs[&Rung::Install].status, Status::Unverified);
    assert_eq!(r.lanes[&Lane::Fresh].screenshot, None);
}

/// The performance figures: a five-step flow with the driver's start, and one
/// capture. `cargo nextest run --test run_browser --run-ignored only`.
#[test]
#[ignore = "a benchmark: prints timings"]
fn bench_five_step_flow_and_screenshot() {
    let site = browser_site::BrowserSite::start(CI);
    *site.password.lock().unwrap() = "s3cret".into();
    let scratch = tempfile::tempdir().unwrap();
    let b = chrome(scratch.path());
    let domain = format!("app.{CI}");
    for _ in 0..3 {
        let t = Instant::now();
        let mut p = b
            .open(&probe(&site, Duration::from_secs(10)), &domain)
            .unwrap();
        let opened = t.elapsed();
        let wait = |p: &mut Box<dyn Page + '_>, what: &dyn Fn(&mut dyn Page) -> bool| {
            let end = Instant::now() + Duration::from_secs(5);
            while !what(p.as_mut()) {
                assert!(Instant::now() < end, "timed out at {:?}", p.url());
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        p.goto("/login").unwrap();
        wait(&mut p, &|p| p.has("#username").unwrap());
        p.fill("#username", "admin").unwrap();
        p.fill("#password", "s3cret").unwrap();
        p.click("#kc-login").unwrap();
        wait(&mut p, &|p| {
            p.text().unwrap().contains("Welcome to the admin console")
        });
        let flow = t.elapsed();
        let t = Instant::now();
        let png = p.screenshot().unwrap();
        let shot = t.elapsed();
        assert!(!is_blank(&png));
        let t = Instant::now();
        drop(p);
        println!("stopped in {:?}", t.elapsed());
        println!(
            "five-step flow with driver start: {flow:?} (start {opened:?}); screenshot: {shot:?}"
        );
        assert!(flow < Duration::from_secs(3) && shot < Duration::from_secs(2));
    }
    assert!(processes_under(scratch.path()).is_empty());
}

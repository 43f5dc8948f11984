//! The production [`Browser`]: headless Chromium driven by chromedriver over
//! WebDriver, through the fantoccini client (docs/browser.md).
//!
//! Each [`Page`] owns its own chromedriver (a free local port, its own
//! process group) and a fresh profile directory; dropping the page ends the
//! session and kills the whole group, so no browser outlives a check — on a
//! failure or when the run unwinds. A signal to the run only stops the run
//! (`super::stop`); the browser open at that moment finishes its bounded step
//! and is stopped when its page drops, and [`stop_all`] catches the rest.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::probe::ProbeConfig;
use super::world::{Browser, BrowserSetupError, Page};

/// How long chromedriver may take to listen.
const DRIVER_START: Duration = Duration::from_secs(10);

/// How long a new session (Chromium's start) may take; chromedriver's own
/// limit is about a minute, which a check should not wait out.
const SESSION_START: Duration = Duration::from_secs(45);

/// Slack over twice the page-load timeout for one WebDriver command (a click
/// may wait for the navigation it starts; a loaded machine answers slowly).
/// Chromedriver can hold a command (a screenshot, a script) while a
/// navigation that already timed out is still pending, until the server
/// gives up on the request: without a bound of our own, a page that never
/// answers would hold the check that long.
const COMMAND_SLACK: Duration = Duration::from_secs(10);

/// Why a bounded WebDriver call gave no answer.
enum CallError {
    /// The driver answered with an error.
    Answered(String),
    /// No answer within the budget: the session is wedged.
    Silent(String),
}

/// Run one WebDriver call on the page's runtime, bounded by `budget`.
fn bounded<T, E: std::fmt::Display>(
    rt: &tokio::runtime::Runtime,
    budget: Duration,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, CallError> {
    match rt.block_on(async { tokio::time::timeout(budget, call).await }) {
        Ok(r) => r.map_err(|e| CallError::Answered(e.to_string())),
        Err(_) => Err(CallError::Silent(format!(
            "the browser did not answer within {}s",
            budget.as_secs()
        ))),
    }
}

/// Chromium and chromedriver as found through `CCCI_CHROMEDRIVER` /
/// `CCCI_CHROMIUM` or on PATH.
#[derive(Debug, Clone)]
pub struct ChromeBrowser {
    pub driver: PathBuf,
    /// The browser binary; chromedriver's own choice when `None`.
    pub chromium: Option<PathBuf>,
    /// Where profiles are made (the system temp directory by default).
    pub scratch: PathBuf,
}

impl ChromeBrowser {
    pub fn from_env() -> Self {
        ChromeBrowser {
            driver: std::env::var_os("CCCI_CHROMEDRIVER")
                .map_or_else(|| PathBuf::from("chromedriver"), PathBuf::from),
            chromium: std::env::var_os("CCCI_CHROMIUM").map(PathBuf::from),
            scratch: std::env::temp_dir(),
        }
    }
}

/// The flags Chromium runs with. Root in a CI container has no user
/// namespace for the sandbox (`--no-sandbox`); nothing phones home or asks
/// first-run questions; the run domain resolves to the gateway, as the
/// probe pins its connections (docs/traefik.md).
pub fn chromium_args(profile: &Path, domain: &str, gateway: SocketAddr) -> Vec<String> {
    vec![
        "--headless=new".into(),
        "--no-sandbox".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-gpu".into(),
        format!("--user-data-dir={}", profile.display()),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1280,800".into(),
        format!("--host-resolver-rules=MAP {domain} {gateway}"),
    ]
}

fn free_port() -> Result<u16, BrowserSetupError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BrowserSetupError::Driver(format!("no free local port: {e}")))
}

/// Trust the extra CA through Chromium's own store: an NSS database in the
/// profile's HOME (`~/.pki/nssdb`), made with certutil. Verification stays on.
fn trust_ca(home: &Path, pem: &[u8]) -> Result<(), BrowserSetupError> {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).map_err(|e| BrowserSetupError::Trust(e.to_string()))?;
    let ca = home.join("extra-ca.pem");
    std::fs::write(&ca, pem).map_err(|e| BrowserSetupError::Trust(e.to_string()))?;
    let dbarg = format!("sql:{}", db.display());
    let run = |args: &[&str]| -> Result<(), BrowserSetupError> {
        let out = Command::new("certutil")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| BrowserSetupError::Trust(format!("certutil (libnss3-tools): {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(BrowserSetupError::Trust(format!(
                "certutil {}: {}",
                args.first().copied().unwrap_or(""),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    };
    run(&["-N", "-d", &dbarg, "--empty-password"])?;
    let ca_arg = ca.display().to_string();
    run(&[
        "-A",
        "-d",
        &dbarg,
        "-n",
        "ccci-extra-ca",
        "-t",
        "C,,",
        "-i",
        &ca_arg,
    ])
}

/// The process groups of the drivers alive now, for a signal to stop.
static LIVE: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn kill_group(leader: i32) {
    // SAFETY: kill(2) with a negative pid signals the process group
    // chromedriver leads (it was started with process_group(0)); it touches
    // no memory.
    unsafe {
        libc::kill(-leader, libc::SIGKILL);
    }
}

/// Kill every live browser and its driver.
pub fn stop_all() {
    if let Ok(live) = LIVE.lock() {
        live.iter().copied().for_each(kill_group);
    }
}

/// A chromedriver process group, killed on drop.
struct Driver {
    child: Child,
}

impl Driver {
    fn new(child: Child) -> Self {
        if let (Ok(pid), Ok(mut live)) = (i32::try_from(child.id()), LIVE.lock()) {
            live.push(pid);
        }
        Driver { child }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            kill_group(pid);
            if let Ok(mut live) = LIVE.lock() {
                live.retain(|p| *p != pid);
            }
        }
        let _ = self.child.wait();
    }
}

/// One Chromium window on one app domain.
pub struct ChromePage {
    base: String,
    // Dropped in this order: the session, the driver's group, the runtime, the profile.
    client: Option<Client>,
    driver: Option<Driver>,
    rt: tokio::runtime::Runtime,
    profile: PathBuf,
    /// The bound of one command: twice the page-load timeout plus slack.
    budget: Duration,
}

impl Drop for ChromePage {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), c.close()).await });
        }
        drop(self.driver.take());
        kill_strays(&self.profile.join("home"));
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Kill what is left of this page's browser outside the driver's group.
/// Chromium's crash handler puts itself in a session of its own; when the
/// browser dies unannounced (a wedged session ends with SIGKILL) it stays.
/// Every process the driver started carries the page's private `HOME`, so
/// that is how they are told from anything else on the host.
fn kill_strays(home: &Path) {
    let needle = format!("HOME={}", home.display());
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in procs.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            // SAFETY: kill(2) touches no memory. The pid was matched by its
            // environment just now; the window for it to be reused by an
            // unrelated process in between is the length of this call.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

impl Browser for ChromeBrowser {
    fn open<'a>(
        &'a self,
        config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn Page + 'a>, BrowserSetupError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| BrowserSetupError::Driver(e.to_string()))?;
        let profile = self.scratch.join(format!(
            "ccci-browser-{}-{:06x}",
            std::process::id(),
            crate::names::run::fresh_nonce()
        ));
        let home = profile.join("home");
        std::fs::create_dir_all(&home).map_err(|e| BrowserSetupError::Browser(e.to_string()))?;
        // From here on the page owns the profile and cleans it up on drop.
        let mut page = ChromePage {
            base: format!("https://{domain}"),
            client: None,
            driver: None,
            rt,
            profile: profile.clone(),
            budget: config.request_timeout * 2 + COMMAND_SLACK,
        };
        if let Some(pem) = &config.extra_ca_pem {
            trust_ca(&home, pem)?;
        }
        let port = free_port()?;
        let child = Command::new(&self.driver)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                profile.join("chromedriver.log").display()
            ))
            .env("HOME", &home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                BrowserSetupError::Driver(format!(
                    "{}: {e} (install chromedriver or set CCCI_CHROMEDRIVER)",
                    self.driver.display()
                ))
            })?;
        page.driver = Some(Driver::new(child));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let start = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(d) = page.driver.as_mut()
                && let Ok(Some(st)) = d.child.try_wait()
            {
                return Err(BrowserSetupError::Driver(format!(
                    "chromedriver exited: {st}"
                )));
            }
            if start.elapsed() > DRIVER_START {
                return Err(BrowserSetupError::Driver(format!(
                    "chromedriver did not listen within {}s",
                    DRIVER_START.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut options =
            json!({ "args": chromium_args(&profile.join("profile"), domain, config.connect) });
        if let Some(bin) = &self.chromium {
            options["binary"] = json!(bin.display().to_string());
        }
        let load_ms = u64::try_from(config.request_timeout.as_millis()).unwrap_or(u64::MAX);
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": load_ms, "script": load_ms, "implicit": 0 },
        });
        let serde_json::Value::Object(caps) = caps else {
            return Err(BrowserSetupError::Browser(
                "capabilities are not an object".into(),
            ));
        };
        let url = format!("http://{addr}");
        let client = bounded(&page.rt, SESSION_START, async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&url)
                .await
        })
        .map_err(|(CallError::Answered(e) | CallError::Silent(e))| BrowserSetupError::Browser(e))?;
        page.client = Some(client);
        Ok(Box::new(page))
    }
}

impl ChromePage {
    /// One bounded call on the session. A silent driver is still busy with
    /// the call and would hold every later one as long: end the session at
    /// once, so the rest of the check fails fast instead of waiting it out.
    fn call<T, E, F>(&mut self, f: impl FnOnce(Client) -> F) -> Result<T, String>
    where
        E: std::fmt::Display,
        F: std::future::Future<Output = Result<T, E>>,
    {
        let Some(c) = self.client.clone() else {
            return Err("the session has ended".to_owned());
        };
        bounded(&self.rt, self.budget, f(c)).map_err(|e| match e {
            CallError::Answered(e) => e,
            CallError::Silent(e) => {
                self.client = None;
                drop(self.driver.take());
                e
            }
        })
    }

    fn script(&mut self, js: &'static str) -> Result<serde_json::Value, String> {
        self.call(|c| async move { c.execute(js, Vec::new()).await })
    }
}

impl Page for ChromePage {
    fn goto(&mut self, path: &str) -> Result<(), String> {
        let url = format!("{}{path}", self.base);
        self.call(|c| async move { c.goto(&url).await })
    }
    fn fill(&mut self, css: &str, value: &str) -> Result<(), String> {
        self.call(|c| async move {
            let el = c.find(Locator::Css(css)).await?;
            el.clear().await?;
            // The driver's error for a failed send never carries the keys.
            el.send_keys(value).await
        })
    }
    fn click(&mut self, css: &str) -> Result<(), String> {
        self.call(|c| async move { c.find(Locator::Css(css)).await?.click().await })
    }
    fn has(&mut self, css: &str) -> Result<bool, String> {
        self.call(|c| async move { c.find_all(Locator::Css(css)).await })
            .map(|v| !v.is_empty())
    }
    fn text(&mut self) -> Result<String, String> {
        let v = self.script("return document.body ? document.body.innerText : '';")?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }
    fn title(&mut self) -> Result<String, String> {
        self.call(|c| async move { c.title().await })
    }
    fn url(&mut self) -> Result<String, String> {
        self.call(|c| async move { c.current_url().await })
            .map(|u| u.to_string())
    }
    fn loaded(&mut self) -> Result<bool, String> {
        Ok(self.script("return document.readyState;")?.as_str() == Some("complete"))
    }
    fn screenshot(&mut self) -> Result<Vec<u8>, String> {
        self.call(|c| async move { c.screenshot().await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_is_pinned_to_the_gateway_in_a_fresh_profile_without_extras() {
        let a = chromium_args(
            Path::new("/tmp/p"),
            "app.ci.example",
            "10.0.0.1:8443".parse().unwrap(),
        );
        for f in [
            "--headless=new",
            "--no-sandbox",
            "--user-data-dir=/tmp/p",
            "--no-first-run",
            "--disable-background-networking",
            "--host-resolver-rules=MAP app.ci.example 10.0.0.1:8443",
        ] {
            assert!(a.iter().any(|x| x == f), "{f} missing from {a:?}");
        }
        assert!(!a.iter().any(|x| x.contains("ignore-certificate")));
    }
}

//! Generator budgets:
//! - render and validate a synthetic registry of 1,000 recipes: < 1 s, peak RSS < 200 MB;
//! - the whole `ccci-gen --check` process on the shipped registry: < 50 ms.
//!
//! `cargo bench --bench generate` prints the numbers and exits non-zero when a
//! budget is missed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ccci::registry::{Source, load_from_sources};

fn synthetic_recipes(n: usize) -> Vec<Source> {
    (0..n)
        .map(|i| {
            // A mix of shapes: empty files, markers of each kind, checks, sweeps.
            let text = match i % 4 {
                0 => String::new(),
                1 => format!(
                    "category = \"stateful\"\nweekly_sweep = true\ndeploy_timeout = \"10m\"\n[health]\npath = \"/health/{i}\"\nstatuses = [200]\n[marker]\nkind = \"http-file\"\npath = \"/srv/m{i}\"\nurl_path = \"/m{i}\"\n"
                ),
                2 => format!(
                    "[env]\nA = \"x y # z\"\n[env_from_domain]\nSANDBOX_DOMAIN = \"{{label}}-s.{{ci_domain}}\"\n[marker]\nkind = \"sql\"\nengine = \"postgres\"\ndatabase = \"db{i}\"\nuser = \"u{i}\"\n[[check]]\nname = \"api\"\npath = \"/api\"\njson_key = \"ok\"\n"
                ),
                _ => "[skip]\nupgrade = \"no release yet\"\n[[browser]]\nname = \"front\"\nexpect_text = \"Welcome\"\n".to_owned(),
            };
            Source { path: format!("recipes/r{i:04}.toml").into(), text }
        })
        .collect()
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let host = Source {
        path: "ccci.toml".into(),
        text: std::fs::read_to_string(root.join("ccci.toml")).expect("ccci.toml"),
    };
    let recipes = synthetic_recipes(1000);
    let mut failed = false;

    let mut best = Duration::MAX;
    let mut outputs = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let reg = load_from_sources(&host, &recipes).expect("synthetic registry is valid");
        let out = ccci::generate::outputs::render_all(&reg).expect("renders");
        best = best.min(t.elapsed());
        outputs = out.len();
    }
    let rss = peak_rss_mb();
    println!(
        "1,000 recipes: load + render + validate {outputs} outputs: best of 5 = {:.1} ms (budget 1000 ms)",
        best.as_secs_f64() * 1e3
    );
    println!("1,000 recipes: peak RSS of the whole process = {rss:.1} MB (budget 200 MB)");
    failed |= best > Duration::from_secs(1) || rss > 200.0;

    let exe = env!("CARGO_BIN_EXE_ccci-gen");
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let status = Command::new(exe)
            .arg("--root")
            .arg(root)
            .arg("--check")
            .status()
            .expect("runs");
        times.push(t.elapsed());
        assert!(
            status.success(),
            "ccci-gen --check must pass on the shipped registry"
        );
    }
    times.sort();
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    println!(
        "ccci-gen --check (whole process, shipped registry): median {:.1} ms, max {:.1} ms over 30 runs (budget 50 ms)",
        median.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    failed |= median > Duration::from_millis(50);
    if failed {
        eprintln!("a budget was missed");
        std::process::exit(1);
    }
}

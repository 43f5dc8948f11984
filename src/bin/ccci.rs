//! `ccci`: the runtime on the CI host. Each subcommand is a thin front end over
//! the library; exit codes: 0 success, 1 the work failed, 2 usage or input error.

use std::process::ExitCode;

use ccci::reconcile::{self, ReconcileError, Report, Tools};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "ccci",
    version,
    about = "Co-op Cloud recipe CI: run, reconcile, bridge"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Deploy a recipe at a commit, prove it, report it (exit 0 green, 1 red, 2 usage).
    Run {
        /// The runner plan, runners/<recipe>.json.
        #[arg(long)]
        plan: std::path::PathBuf,
        /// The commit to test (40 hex).
        #[arg(long = "ref")]
        git_ref: String,
        /// The repository the commit comes from, owner/name (a fork for fork PRs).
        #[arg(long)]
        src: String,
        /// The pull request number (its refs/pull/N/head is fetched).
        #[arg(long)]
        pr: Option<u64>,
        /// Where to write results.json, junit.xml, summary.md, lint.txt
        /// (default: <runs_dir>/<recipe>/<run id>).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Run the fresh and upgrade lanes one after the other.
        #[arg(long)]
        sequential: bool,
        /// The gateway the run domains are routed to (env CCCI_HTTPS_ADDR).
        #[arg(long)]
        https_addr: Option<std::net::SocketAddr>,
        /// An extra trusted CA certificate in PEM (env CCCI_CA_FILE).
        #[arg(long)]
        ca_file: Option<std::path::PathBuf>,
        /// Clone from <URL>/<owner>/<name>.git instead of the plan's Gitea (env CCCI_GIT_URL).
        #[arg(long)]
        git_url: Option<String>,
    },
    /// Tear down run apps no live run holds and older than the max age
    /// (found from env files and the engine); prints what it reaped.
    /// The host comes from a runner plan, or from the four flags below.
    Janitor {
        /// Any runner plan of the host (its abra dir, server, CI domain, runs dir).
        #[arg(long, required_unless_present_all = ["abra_dir", "server", "ci_domain", "runs_dir"])]
        plan: Option<std::path::PathBuf>,
        /// The shared abra directory (instead of --plan).
        #[arg(long)]
        abra_dir: Option<std::path::PathBuf>,
        /// abra's server name (instead of --plan).
        #[arg(long)]
        server: Option<String>,
        /// The CI domain run apps live under (instead of --plan).
        #[arg(long)]
        ci_domain: Option<String>,
        /// Where runs keep their locks and records (instead of --plan).
        #[arg(long)]
        runs_dir: Option<std::path::PathBuf>,
        /// Reap only apps older than this: 90s, 30m, 2h, 1d (default: the plan's).
        #[arg(long)]
        max_age: Option<String>,
        /// Print what would be reaped, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check a runner plan without running it (prints the resolved plan).
    CheckPlan {
        /// A runner plan, runners/<recipe>.json.
        #[arg(long)]
        plan: std::path::PathBuf,
    },
    /// Watch recipe PRs for `!testme`, trigger Drone, report back (a service).
    Bridge {
        /// The bridge config, modules-gen/etc/bridge.json.
        #[arg(long)]
        config: std::path::PathBuf,
        /// Where the ledger lives; defaults to $STATE_DIRECTORY (systemd).
        #[arg(long)]
        state_dir: Option<std::path::PathBuf>,
    },
    /// Render the dashboard (a static site) from the runs directory: only the
    /// runs that appeared since the last update, or everything with --full.
    Dashboard {
        /// Where the runs are (host.runs_dir).
        #[arg(long)]
        runs_dir: std::path::PathBuf,
        /// Where the site is written (served read-only).
        #[arg(long)]
        site_dir: std::path::PathBuf,
        /// An enrolled recipe the index lists; repeat it. None: every recipe with runs.
        #[arg(long = "recipe")]
        recipes: Vec<String>,
        /// Delete runs that started longer ago than this ("30d"), from disk and pages.
        #[arg(long)]
        retention: Option<String>,
        /// Read every run and render the whole site.
        #[arg(long)]
        full: bool,
    },
    /// Converge one piece of the host to its config (run by the reconcile
    /// oneshots on every boot); prints one line per change.
    Reconcile {
        #[arg(value_enum)]
        piece: Piece,
        /// The config ccci-gen rendered, modules-gen/etc/reconcile-<piece>.json.
        #[arg(long)]
        config: std::path::PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Piece {
    Swarm,
    Proxy,
    Drone,
    Backupbot,
}

impl Piece {
    fn name(self) -> &'static str {
        match self {
            Piece::Swarm => "swarm",
            Piece::Proxy => "proxy",
            Piece::Drone => "drone",
            Piece::Backupbot => "backupbot",
        }
    }
}

fn reconcile_piece(piece: Piece, config: &std::path::Path) -> ExitCode {
    use ccci::config::read_config;
    let tools = Tools::from_env();
    let result: Result<Result<Report, ReconcileError>, ccci::config::ConfigError> = match piece {
        Piece::Swarm => read_config(config).map(|c| reconcile::swarm::reconcile(&c, &tools)),
        Piece::Proxy => read_config(config).map(|c| reconcile::proxy::reconcile(&c, &tools)),
        Piece::Drone => {
            read_config(config).map(|c| reconcile::drone::reconcile(&c, &tools, Default::default()))
        }
        Piece::Backupbot => {
            read_config(config).map(|c| reconcile::backupbot::reconcile(&c, &tools))
        }
    };
    match result {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Ok(Err(e)) => {
            eprintln!("error: {}: {e}", piece.name());
            ExitCode::from(1)
        }
        Ok(Ok(report)) => {
            for line in &report.actions {
                println!("{line}");
            }
            if report.is_noop() {
                println!("{}: up to date", piece.name());
            }
            ExitCode::SUCCESS
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Bridge { config, state_dir } => match bridge(&config, &state_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            plan,
            git_ref,
            src,
            pr,
            out,
            sequential,
            https_addr,
            ca_file,
            git_url,
        } => {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let https_addr = match https_addr
                .map(Ok)
                .or_else(|| env("CCCI_HTTPS_ADDR").map(|v| v.parse()))
            {
                None => std::net::SocketAddr::from(([127, 0, 0, 1], 443)),
                Some(Ok(a)) => a,
                Some(Err(e)) => {
                    eprintln!("error: CCCI_HTTPS_ADDR: {e}");
                    return ExitCode::from(2);
                }
            };
            let args = ccci::run::cli::RunArgs {
                plan,
                git_ref,
                src,
                pr,
                out,
                lanes: sequential.then_some(ccci::registry::LaneMode::Sequential),
                https_addr,
                ca_file: ca_file.or_else(|| env("CCCI_CA_FILE").map(Into::into)),
                git_url: git_url.or_else(|| env("CCCI_GIT_URL")),
                poll: std::time::Duration::from_millis(250),
            };
            match ccci::run::cli::run(&args, ccci::run::progress::Progress::stdout()) {
                Ok(done) => ExitCode::from(done.exit),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Reconcile { piece, config } => reconcile_piece(piece, &config),
        Command::Dashboard {
            runs_dir,
            site_dir,
            recipes,
            retention,
            full,
        } => dashboard(runs_dir, site_dir, recipes, retention.as_deref(), full),
        Command::Janitor {
            plan,
            abra_dir,
            server,
            ci_domain,
            runs_dir,
            max_age,
            dry_run,
        } => janitor(
            JanitorHost {
                plan,
                abra_dir,
                server,
                ci_domain,
                runs_dir,
            },
            max_age.as_deref(),
            dry_run,
        ),
        Command::CheckPlan { plan } => match ccci::plan::PlanV1::read(&plan) {
            Ok(p) => {
                println!(
                    "{}: plan for {} is valid (schema {})",
                    plan.display(),
                    p.recipe,
                    p.schema
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// `ccci bridge`: read the config and the credentials, then serve until
/// SIGTERM/SIGINT. Only start-up problems end it; runtime errors are logged
/// and retried inside.
fn bridge(config: &std::path::Path, state_dir: &Option<std::path::PathBuf>) -> anyhow::Result<()> {
    use anyhow::Context;
    use ccci::bridge::{Secrets, Settings, read_credential};

    let state_dir = match state_dir {
        Some(d) => d.clone(),
        None => std::env::var_os("STATE_DIRECTORY")
            .map(std::path::PathBuf::from)
            .context("no --state-dir and $STATE_DIRECTORY is not set")?,
    };

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    let cfg: ccci::config::BridgeConfigV1 = ccci::config::read_config(config)?;
    let creds = std::env::var_os("CREDENTIALS_DIRECTORY")
        .map(std::path::PathBuf::from)
        .context("$CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential=)")?;
    let webhook_secret = match (&cfg.credentials.webhook_secret, cfg.webhook) {
        (Some(name), true) => Some(read_credential(&creds, name)?.into_bytes()),
        (None, true) => {
            anyhow::bail!("webhook is enabled but credentials.webhook_secret is not set")
        }
        (_, false) => None,
    };
    let drone_hook_secret = match &cfg.credentials.drone_hook_secret {
        Some(name) => Some(read_credential(&creds, name)?.into_bytes()),
        None => None,
    };
    let secrets = Secrets {
        gitea_token: read_credential(&creds, &cfg.credentials.gitea_token)?,
        drone_token: read_credential(&creds, &cfg.credentials.drone_token)?,
        webhook_secret,
        drone_hook_secret,
    };
    let mut settings = Settings::from_config(&cfg, &state_dir);
    // Benchmarks run many cycles in seconds; the config speaks whole seconds.
    if let Some(ms) = std::env::var("CCCI_BRIDGE_POLL_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let mut t = settings.tuning.clone();
        t.poll_interval = std::time::Duration::from_millis(ms.max(1));
        settings = settings.with_tuning(t);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async {
        let metrics = std::sync::Arc::new(ccci::bridge::metrics::Metrics::default());
        let bridge = ccci::bridge::exec::Bridge::new(settings, secrets, metrics)?;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("listen on {}", cfg.listen))?;
        tracing::info!(listen = %cfg.listen, webhook = cfg.webhook, "listening");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("SIGTERM handler")?;
        tokio::select! {
            () = bridge.run(Some(listener)) => {}
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted, stopping"),
            _ = term.recv() => tracing::info!("terminated, stopping"),
        }
        Ok(())
    })
}

fn dashboard(
    runs_dir: std::path::PathBuf,
    site_dir: std::path::PathBuf,
    recipes: Vec<String>,
    retention: Option<&str>,
    full: bool,
) -> ExitCode {
    use ccci::registry::values::{Duration, RecipeName};
    for r in &recipes {
        if let Err(e) = r.parse::<RecipeName>() {
            eprintln!("error: --recipe {r:?}: {e}");
            return ExitCode::from(2);
        }
    }
    let retention_secs = match retention.map(str::parse::<Duration>).transpose() {
        Ok(d) => d.map(Duration::as_secs),
        Err(e) => {
            eprintln!("error: --retention: {e}");
            return ExitCode::from(2);
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let opts = ccci::dashboard::Options {
        runs_dir,
        site_dir,
        recipes,
        retention_secs,
        now,
    };
    let result = if full {
        ccci::dashboard::rebuild(&opts)
    } else {
        ccci::dashboard::update(&opts)
    };
    match result {
        Ok(r) => {
            println!(
                "dashboard: {} runs added, {} pruned, {} files written, {} removed",
                r.added,
                r.pruned.len(),
                r.log.written.len(),
                r.log.removed.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: dashboard: {e}");
            ExitCode::from(1)
        }
    }
}

/// Where `ccci janitor` acts, as given on the command line.
struct JanitorHost {
    plan: Option<std::path::PathBuf>,
    abra_dir: Option<std::path::PathBuf>,
    server: Option<String>,
    ci_domain: Option<String>,
    runs_dir: Option<std::path::PathBuf>,
}

fn janitor_facts(
    h: JanitorHost,
    max_age: Option<&str>,
) -> Result<ccci::run::janitor_cli::HostFacts, String> {
    use ccci::run::janitor_cli::HostFacts;
    let max_age = max_age
        .map(ccci::run::janitor::parse_age)
        .transpose()
        .map_err(|e| format!("--max-age {e}"))?;
    let mut facts = match (h.plan, h.abra_dir, h.server, h.ci_domain, h.runs_dir) {
        (Some(p), ..) => {
            HostFacts::of_plan(&ccci::plan::PlanV1::read(&p).map_err(|e| e.to_string())?)
        }
        (None, Some(abra_dir), Some(server), Some(ci), Some(runs_dir)) => HostFacts {
            abra_dir,
            server,
            ci_domain: ci.parse().map_err(|e: ccci::registry::values::Invalid| {
                format!("--ci-domain {ci:?}: {}", e.0)
            })?,
            runs_dir,
            max_age: max_age.ok_or("--max-age is needed without --plan")?,
        },
        _ => return Err("give --plan, or --abra-dir, --server, --ci-domain and --runs-dir".into()),
    };
    if let Some(a) = max_age {
        facts.max_age = a;
    }
    Ok(facts)
}

fn janitor(h: JanitorHost, max_age: Option<&str>, dry_run: bool) -> ExitCode {
    let facts = match janitor_facts(h, max_age) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let sweep = ccci::run::janitor_cli::run(&facts, dry_run);
    for line in sweep.lines(dry_run) {
        println!("{line}");
    }
    let left = sweep.reaped.iter().any(|(_, r)| !r.problems.is_empty());
    if left || !sweep.problems.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

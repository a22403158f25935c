//! `clockwatch-report` (run as `clockwatch report` too): compliance
//! evidence from Prometheus history.
//!
//! It is its own crate and binary so that the node binary, which runs on
//! every machine, carries no HTTP client, CSV or HTML code; the node's
//! `clockwatch report` subcommand only finds this binary and replaces itself
//! with it. The names it queries (metrics, labels, sync states) come from
//! `clockwatch-vocab`, the crate the exporter writes them from.
//!
//! Layout: [`profile`] (tolerances), [`timeparse`] (`--from`/`--to`),
//! [`prom`] (HTTP client), [`source`] (queries and assembly into cells),
//! [`analysis`] (pure classification), and one renderer per format. Only
//! [`run`] reads the clock, the environment and the network.

pub mod analysis;
pub mod budget;
pub mod bundle;
pub mod counters;
pub mod fetch;
pub mod groups;
pub mod profile;
pub mod prom;
pub mod render_csv;
pub mod render_evidence;
pub mod render_html;
pub mod render_json;
pub mod render_md;
pub mod source;
pub mod timeline;
pub mod timeparse;
pub mod traceability;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use analysis::{Grid, NodeReport, Summary};
use profile::Tolerance;

/// Environment variable holding a bearer token (Azure Monitor workspaces).
pub const ENV_BEARER_TOKEN: &str = "CLOCKWATCH_PROMETHEUS_BEARER_TOKEN";
/// Environment variable holding the basic auth password.
pub const ENV_BASIC_AUTH_PASSWORD: &str = "CLOCKWATCH_PROMETHEUS_BASIC_AUTH_PASSWORD";
/// Largest grid accepted (cells per node).
pub const MAX_CELLS: usize = 2_000_000;

/// Errors of the report (all end in exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A flag is wrong.
    #[error("{0}")]
    Argument(String),
    /// `--to` lies in the future.
    #[error("--to {to} is in the future (now is {now}); a report can only cover the past")]
    FutureRange {
        /// Requested end.
        to: String,
        /// Now.
        now: String,
    },
    /// `--from` is not before `--to`.
    #[error("--from {from} is not before --to {to}")]
    EmptyRange {
        /// Requested start.
        from: String,
        /// Requested end.
        to: String,
    },
    /// Could not talk to the server at all.
    #[error("cannot reach Prometheus at {url}: {detail}")]
    Connect {
        /// Base URL.
        url: String,
        /// Cause.
        detail: String,
    },
    /// The server answered, but not like a Prometheus query API.
    #[error("{url} is not a Prometheus query API ({detail}); --prometheus must be the base URL, e.g. http://prometheus:9090")]
    NotPrometheus {
        /// Endpoint.
        url: String,
        /// What came back.
        detail: String,
    },
    /// 401 or 403.
    #[error("Prometheus at {url} refused the request: HTTP {status}; check --bearer-token-file / ${ENV_BEARER_TOKEN} or --basic-auth-user / --basic-auth-password-file")]
    Auth {
        /// Base URL.
        url: String,
        /// HTTP status.
        status: String,
    },
    /// Prometheus rejected a query.
    #[error("Prometheus rejected the query {query}: {error}")]
    Query {
        /// PromQL.
        query: String,
        /// Its error.
        error: String,
    },
    /// The selector matched nothing.
    #[error("no clockwatch series matched {selector} between {from} and {to}: {query} returned no sample; check --selector, the period, and that Prometheus scrapes clockwatch")]
    NoSeries {
        /// Selector as given.
        selector: String,
        /// Start.
        from: String,
        /// End.
        to: String,
        /// The query that came back empty.
        query: String,
    },
    /// Writing the report failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// Where.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Rendering failed.
    #[error("cannot render the report: {0}")]
    Render(String),
    /// A query did not finish within the timeout.
    #[error("Prometheus at {url} did not answer within --prometheus-timeout {timeout}: timeout of {query} over {from} .. {to}; raise --prometheus-timeout or lower --max-samples-per-query")]
    Timeout {
        /// Base URL.
        url: String,
        /// The timeout.
        timeout: String,
        /// PromQL (or series selector).
        query: String,
        /// First evaluation of the chunk.
        from: String,
        /// Last evaluation of the chunk.
        to: String,
    },
    /// The engine refused a query as too large (split and retried).
    #[error("the query engine refused {query} as too large: {error}")]
    TooLarge {
        /// PromQL.
        query: String,
        /// Its error.
        error: String,
    },
    /// The engine refused even a one-cell chunk.
    #[error("the query engine refused {query} at {at} even for a single evaluation step: {error}; the engine's sample limit (Prometheus --query.max-samples) is below the number of series this query touches: raise that limit, or narrow --selector")]
    TooLargeUnsplittable {
        /// PromQL.
        query: String,
        /// The one evaluation instant.
        at: String,
        /// Its error.
        error: String,
    },
    /// The estimated memory is over `--max-memory`.
    #[error("this report needs about {need} ({nodes} nodes x {cells} cells), over --max-memory {limit}; raise --max-memory, use a larger --step, a shorter period (--from/--to) or a narrower --selector")]
    Memory {
        /// Estimate.
        need: String,
        /// The limit as given.
        limit: String,
        /// Nodes found.
        nodes: usize,
        /// Cells per node.
        cells: usize,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown.
    Md,
    /// One self-contained HTML file with a timeline per node.
    Html,
    /// CSV, one header, typed rows (see docs/compliance.md).
    Csv,
    /// JSON, schema `clockwatch.report/v1` (see docs/compliance.md).
    Json,
}

/// The `clockwatch-report` command line (the same as `clockwatch report`,
/// which runs this binary with its arguments).
#[derive(Debug, clap::Parser)]
#[command(
    name = "clockwatch-report",
    version,
    about = "Build a compliance report from Prometheus history (also run as `clockwatch report`)"
)]
pub struct Cli {
    #[command(flatten)]
    pub args: ReportArgs,
}

/// Arguments of the report.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Start: RFC 3339, unix seconds, or now-DURATION (now-7d).
    #[arg(long)]
    pub from: String,
    /// End: RFC 3339, unix seconds, now or now-DURATION. Not in the future.
    #[arg(long, default_value = "now")]
    pub to: String,
    /// mifid2-hft (100µs), mifid2-algo (1ms), mifid2-voice (1s), finra-cat
    /// (50ms), cat-participant (100µs), or a duration (250us, 2ms).
    #[arg(long)]
    pub tolerance: String,
    /// Label matchers selecting the clockwatch series, e.g. '{cluster="prod"}'.
    #[arg(long, default_value = "")]
    pub selector: String,
    /// The label that names a series' node, as your scrape configuration
    /// writes it (the shipped ones write `node`).
    #[arg(long, default_value = "node", value_name = "LABEL")]
    pub node_label: String,
    /// Grid step: each cell is one step long. Use the scrape interval for
    /// the finest resolution.
    #[arg(long, default_value = "60s")]
    pub step: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// How time in tolerance is measured: the exporter's time counters
    /// (exact between scrapes), the grid of scrapes, or auto (counters for
    /// each node that has them for the whole period, else the grid).
    #[arg(long, value_enum, default_value = "auto")]
    pub method: counters::Method,
    /// Write the report here instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Share of unmeasured time a node may have and still be compliant
    /// (0 = none; "0.1%" or "0.001").
    #[arg(long, default_value = "0")]
    pub max_unmeasured: String,
    /// Also write an evidence bundle into this new (or empty) directory: the
    /// report in every format, the raw answer of every query, and a
    /// MANIFEST of SHA-256 hashes (see docs/compliance.md).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Sign the bundle's MANIFEST with this Ed25519 private key (PKCS#8
    /// PEM, as `openssl genpkey -algorithm ed25519` or `clockwatch report
    /// keygen` writes it).
    #[arg(long, requires = "bundle")]
    pub sign_key: Option<PathBuf>,
    /// How to reach and authenticate to the query API.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Largest number of grid points per query (Prometheus refuses more
    /// than 11000 per series).
    #[arg(long, default_value_t = 10_000)]
    pub max_points: usize,
    /// Fleet-scale fetching: cost-sized chunks, concurrency, memory budget.
    #[command(flatten)]
    pub fleet: fetch::FleetArgs,
}

/// Connection options of the report.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Base URL of a Prometheus-compatible query API (Prometheus, Thanos,
    /// Mimir, Azure Monitor workspace query endpoint).
    #[arg(long, env = "CLOCKWATCH_PROMETHEUS_URL")]
    pub prometheus: String,
    /// File holding a bearer token (else $CLOCKWATCH_PROMETHEUS_BEARER_TOKEN).
    #[arg(long)]
    pub bearer_token_file: Option<PathBuf>,
    /// Basic auth user.
    #[arg(long)]
    pub basic_auth_user: Option<String>,
    /// File holding the basic auth password (else
    /// $CLOCKWATCH_PROMETHEUS_BASIC_AUTH_PASSWORD).
    #[arg(long)]
    pub basic_auth_password_file: Option<PathBuf>,
    /// Extra CA certificate(s), PEM, to verify the server.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate, PEM (with --key-file).
    #[arg(long, requires = "key_file")]
    pub cert_file: Option<PathBuf>,
    /// Client key, PEM (with --cert-file).
    #[arg(long, requires = "cert_file")]
    pub key_file: Option<PathBuf>,
    /// Timeout of each query.
    #[arg(long, default_value = "2m")]
    pub prometheus_timeout: String,
}

/// Everything a renderer needs.
#[derive(Debug, Clone)]
pub struct Report {
    /// When the report was made, unix ms.
    pub generated_ms: i64,
    /// Query API base URL, without credentials.
    pub prometheus: String,
    /// Selector as given.
    pub selector: String,
    /// Requested start, unix ms.
    pub requested_from_ms: i64,
    /// Requested end, unix ms.
    pub requested_to_ms: i64,
    /// Evaluation grid (covers `[from, from + cells·step]`).
    pub grid: Grid,
    /// Tolerance.
    pub tolerance: Tolerance,
    /// Unmeasured share a node may have.
    pub allowed_unmeasured: f64,
    /// Per node, sorted by name.
    pub nodes: Vec<NodeReport>,
    /// Cluster summary.
    pub summary: Summary,
    /// The PromQL that was run.
    pub queries: Vec<String>,
    /// Per node: the references followed, leap status, probe agreement.
    pub traceability: std::collections::BTreeMap<String, traceability::NodeTrace>,
}

/// The validated plan of a report (no I/O).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Requested start.
    pub from_ms: i64,
    /// Requested end.
    pub to_ms: i64,
    /// Grid.
    pub grid: Grid,
    /// Tolerance.
    pub tolerance: Tolerance,
    /// Matchers inside the selector braces.
    pub matchers: String,
    /// Unmeasured share allowed.
    pub allowed_unmeasured: f64,
}

impl Plan {
    /// Validates the arguments against `now_ms`.
    pub fn new(args: &ReportArgs, now_ms: i64) -> Result<Plan, ReportError> {
        source::set_node_label(&args.node_label)?;
        let tolerance = profile::parse_tolerance(&args.tolerance)?;
        let from_ms = timeparse::parse_time("--from", &args.from, now_ms)?;
        let to_ms = timeparse::parse_time("--to", &args.to, now_ms)?;
        if to_ms > now_ms {
            return Err(ReportError::FutureRange {
                to: timeparse::format_ms(to_ms),
                now: timeparse::format_ms(now_ms),
            });
        }
        if from_ms >= to_ms {
            return Err(ReportError::EmptyRange {
                from: timeparse::format_ms(from_ms),
                to: timeparse::format_ms(to_ms),
            });
        }
        let step = profile::parse_duration(&args.step)
            .map_err(|e| ReportError::Argument(format!("--step {:?}: {e}", args.step)))?;
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
        if step_ms < 1000 || step.subsec_nanos() % 1_000_000 != 0 {
            return Err(ReportError::Argument(format!(
                "--step {:?}: must be at least 1s and a whole number of milliseconds",
                args.step
            )));
        }
        let cells = usize::try_from((to_ms - from_ms) / step_ms).unwrap_or(usize::MAX);
        if cells == 0 {
            return Err(ReportError::Argument(format!(
                "the period {} .. {} is shorter than one --step {}",
                timeparse::format_ms(from_ms),
                timeparse::format_ms(to_ms),
                args.step
            )));
        }
        if cells > MAX_CELLS {
            return Err(ReportError::Argument(format!(
                "{cells} grid cells per node is too many (limit {MAX_CELLS}); use a larger --step or a shorter period"
            )));
        }
        if args.fleet.max_samples_per_query == 0 || args.fleet.prometheus_concurrency == 0 {
            return Err(ReportError::Argument(
                "--max-samples-per-query and --prometheus-concurrency must be at least 1"
                    .to_string(),
            ));
        }
        // Checked here, not only when the grouping is planned after the
        // survey: a bad size is a bad flag even when Prometheus is down.
        budget::parse_size(&args.fleet.max_memory)?;
        if args.max_points == 0 || args.max_points > 11_000 {
            return Err(ReportError::Argument(
                "--max-points must be between 1 and 11000".to_string(),
            ));
        }
        Ok(Plan {
            from_ms,
            to_ms,
            grid: Grid {
                start_ms: from_ms,
                step_ms,
                cells,
            },
            tolerance,
            matchers: source::selector_matchers(&args.selector)?,
            allowed_unmeasured: parse_ratio(&args.max_unmeasured)?,
        })
    }
}

/// Parses `--max-unmeasured`: `0`, `0.001`, `0.1%`.
pub fn parse_ratio(text: &str) -> Result<f64, ReportError> {
    let t = text.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (t, 1.0),
    };
    let v: f64 = num.parse().map_err(|_| {
        ReportError::Argument(format!(
            "--max-unmeasured {text:?}: expected a share such as 0, 0.001 or 0.1%"
        ))
    })?;
    let v = v / scale;
    if !(0.0..=1.0).contains(&v) {
        return Err(ReportError::Argument(format!(
            "--max-unmeasured {text:?}: must be between 0 and 100%"
        )));
    }
    Ok(v)
}

/// The binary's entry point: bad arguments exit 2 (as in every clockwatch
/// command), `--help` and `--version` 0, and the report itself as [`run`].
pub fn main() -> ExitCode {
    // `verify` and `keygen` are tools of their own, not reports.
    if matches!(
        std::env::args().nth(1).as_deref(),
        Some("verify" | "keygen")
    ) {
        return match <bundle::ToolCli as clap::Parser>::try_parse() {
            Ok(cli) => bundle::run_tool(cli.cmd),
            Err(err) => {
                let _ = err.print();
                if err.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                }
            }
        };
    }
    match <Cli as clap::Parser>::try_parse() {
        Ok(cli) => run(cli.args),
        Err(err) => {
            let _ = err.print();
            if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// Runs the report; exit code 0 compliant, 1 not compliant, 2 error.
pub fn run(args: ReportArgs) -> ExitCode {
    match execute(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("clockwatch report: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn read_secret(
    flag: &str,
    path: &Option<PathBuf>,
    env: &str,
) -> Result<Option<String>, ReportError> {
    if let Some(p) = path {
        let s = std::fs::read_to_string(p)
            .map_err(|e| ReportError::Argument(format!("{flag} {}: {e}", p.display())))?;
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err(ReportError::Argument(format!(
                "{flag} {}: file is empty",
                p.display()
            )));
        }
        return Ok(Some(s));
    }
    Ok(std::env::var(env)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty()))
}

fn execute(args: &ReportArgs) -> Result<bool, ReportError> {
    let now = now_ms();
    let plan = Plan::new(args, now)?;
    let timeout = profile::parse_duration(&args.connection.prometheus_timeout).map_err(|e| {
        ReportError::Argument(format!(
            "--prometheus-timeout {:?}: {e}",
            args.connection.prometheus_timeout
        ))
    })?;
    if timeout < Duration::from_millis(100) {
        return Err(ReportError::Argument(
            "--prometheus-timeout must be at least 100ms".into(),
        ));
    }
    let bearer_token = read_secret(
        "--bearer-token-file",
        &args.connection.bearer_token_file,
        ENV_BEARER_TOKEN,
    )?;
    let basic_auth = match &args.connection.basic_auth_user {
        Some(user) => {
            let pass = read_secret(
                "--basic-auth-password-file",
                &args.connection.basic_auth_password_file,
                ENV_BASIC_AUTH_PASSWORD,
            )?
            .unwrap_or_default();
            Some((user.clone(), pass))
        }
        None => None,
    };
    if bearer_token.is_some() && basic_auth.is_some() {
        return Err(ReportError::Argument(
            "use either a bearer token or basic auth, not both".to_string(),
        ));
    }
    let sign_key = match &args.sign_key {
        Some(p) => Some(
            bundle::read_signing_key(p)
                .map_err(|e| ReportError::Argument(format!("--sign-key {e}")))?,
        ),
        None => None,
    };
    let mut client = prom::Client::new(&prom::ClientConfig {
        url: args.connection.prometheus.clone(),
        bearer_token,
        basic_auth,
        ca_file: args.connection.ca_file.clone(),
        client_cert: args
            .connection
            .cert_file
            .clone()
            .zip(args.connection.key_file.clone()),
        timeout,
    })?;
    // Started before any query: a directory in the way is refused before
    // the work, and every answer is written as it arrives.
    let spool = match &args.bundle {
        Some(dir) => {
            let spool = std::sync::Arc::new(bundle::Spool::create(dir).map_err(|e| match e {
                bundle::BundleError::NotEmpty(_) => ReportError::Argument(e.to_string()),
                e => ReportError::Output {
                    path: dir.display().to_string(),
                    source: std::io::Error::other(e.to_string()),
                },
            })?);
            client.record(spool.clone());
            Some(spool)
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ReportError::Argument(format!("cannot start the runtime: {e}")))?;

    let tty = std::io::stderr().is_terminal();
    let mut progress = |done: usize, total: usize| {
        if tty && total > 0 {
            let width = 30;
            let filled = done * width / total;
            eprint!(
                "\r[{}{}] {done}/{total} queries",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            if done == total {
                eprint!("\r{}\r", " ".repeat(width + 24));
            }
            let _ = std::io::stderr().flush();
        }
    };
    let survey = runtime.block_on(fetch::survey(&client, &plan.grid, &plan.matchers))?;
    let counters = args.method != counters::Method::Grid;
    let check_memory = |nodes: usize| {
        // The engine has no series index: the nodes the bound query found,
        // with counters assumed for each where they will be read.
        let found = fetch::Survey {
            nodes,
            counter_series: nodes,
            ..Default::default()
        };
        budget::check(
            &groups::load(&found, plan.grid.cells, &args.fleet, counters),
            &args.fleet.max_memory,
        )
        .map(|_| ())
    };
    let mut notes = Vec::new();
    let tol = plan.tolerance.seconds();
    let analyze =
        |name: &str, cells: &[analysis::CellInput], counted: Option<&counters::NodeCounters>| {
            analyze_with_method(name, &plan.grid, cells, counted, tol, args.method)
        };
    let fetched = runtime.block_on(groups::fetch_all(
        &client,
        &plan.grid,
        &plan.matchers,
        &survey,
        &args.fleet,
        args.max_points,
        counters,
        &analyze,
        &mut progress,
        &mut notes,
        &check_memory,
    ))?;
    let stats = &fetched.stats;
    for n in &notes {
        eprintln!("clockwatch report: {n}");
    }
    eprintln!(
        "clockwatch report: {} range requests sent, {} chunk(s) split after the engine refused them{}",
        client.range_requests(),
        stats.splits,
        fetched.estimated_bytes.map_or(String::new(), |b| format!(
            "; peak memory estimated at {} (--max-memory {})",
            budget::mib(b),
            args.fleet.max_memory.trim()
        ))
    );
    let bound_q = source::bound_query(&plan.matchers, plan.grid.step_ms);
    if fetched.jobs.is_empty() {
        return Err(ReportError::NoSeries {
            selector: if args.selector.trim().is_empty() {
                "{}".to_string()
            } else {
                args.selector.clone()
            },
            from: timeparse::format_ms(plan.from_ms),
            to: timeparse::format_ms(plan.to_ms),
            query: bound_q,
        });
    }
    let jobs = fetched.jobs;
    let nodes: Vec<NodeReport> = fetched.nodes;
    let summary = analysis::summarize(&nodes, plan.allowed_unmeasured);
    let mut queries = vec![bound_q];
    queries.extend(
        source::problem_queries(&plan.matchers, &jobs, plan.grid.step_ms)
            .into_iter()
            .map(|(_, query)| query),
    );
    if let Some(first) = &stats.first_pass {
        // Run before the state query, which then covers only what it flags.
        queries.insert(1, first.clone());
    }
    if args.method != counters::Method::Grid {
        queries.extend(counters::queries(&plan.matchers, plan.grid.step_ms));
    }
    let traces = runtime.block_on(traceability::fetch(
        &client,
        &plan.grid,
        &plan.matchers,
        args.max_points,
    ))?;
    queries.extend(traceability::queries(&plan.matchers, plan.grid.step_ms));
    let report = Report {
        generated_ms: now,
        prometheus: client.display_url().to_string(),
        selector: args.selector.trim().to_string(),
        requested_from_ms: plan.from_ms,
        requested_to_ms: plan.to_ms,
        grid: plan.grid,
        tolerance: plan.tolerance.clone(),
        allowed_unmeasured: plan.allowed_unmeasured,
        nodes,
        summary,
        queries,
        traceability: traces,
    };
    let text = render(&report, args.format)?;
    match &args.output {
        Some(path) => std::fs::write(path, text.as_bytes()).map_err(|e| ReportError::Output {
            path: path.display().to_string(),
            source: e,
        })?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| ReportError::Output {
                    path: "standard output".to_string(),
                    source: e,
                })?;
        }
    }
    if let (Some(dir), Some(spool)) = (&args.bundle, &spool) {
        let mut files = Vec::new();
        for (name, format) in [
            ("report.md", Format::Md),
            ("report.html", Format::Html),
            ("report.csv", Format::Csv),
            ("report.json", Format::Json),
        ] {
            files.push((name, render(&report, format)?));
        }
        bundle::write(spool, &files, sign_key.as_ref()).map_err(|e| ReportError::Output {
            path: dir.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        eprintln!(
            "clockwatch report: evidence bundle in {}{}",
            dir.display(),
            if sign_key.is_some() { " (signed)" } else { "" }
        );
    }
    eprintln!("clockwatch report: {}", verdict_line(&report));
    Ok(report.summary.compliant)
}

/// One node by the method `--method` asks for: the counters where they
/// serve (auto: they cover the whole period), else the grid; the node says
/// which and why.
pub fn analyze_with_method(
    name: &str,
    grid: &Grid,
    cells: &[analysis::CellInput],
    counted: Option<&counters::NodeCounters>,
    tol: f64,
    method: counters::Method,
) -> NodeReport {
    use counters::Method;
    let grid_why = |why: String| {
        let mut n = analysis::analyze_node(name, grid, cells, tol);
        n.method.why = why;
        n
    };
    if method == Method::Grid {
        return grid_why("--method grid".to_string());
    }
    let Some(nc) = counted else {
        return grid_why(format!(
            "no {} series for this node",
            clockwatch_vocab::CLOCKWATCH_CLOCK_ERROR_BOUND_TIME_SECONDS.name
        ));
    };
    if method == Method::Auto {
        if let Err(why) = counters::covers_period(nc) {
            return grid_why(format!("counters do not cover the period: {why}"));
        }
    }
    match counters::count(nc, grid, tol) {
        Ok(c) => {
            let (mut n, mut outcomes) = analysis::analyze_cells(name, grid, &c.cells, tol);
            counters::real_peaks(&mut n, &mut outcomes, nc, grid);
            n.timeline = crate::timeline::Timeline::of(&outcomes);
            let mut why = vec![if method == Method::Auto {
                "counters cover the whole period".to_string()
            } else {
                "--method counters".to_string()
            }];
            why.extend(c.notes);
            n.method = analysis::MethodUsed {
                counters: Some(c.account),
                why: why.join("; "),
            };
            n
        }
        Err(why) => grid_why(format!("counters not usable: {why}")),
    }
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format) -> Result<String, ReportError> {
    match format {
        Format::Md => Ok(render_md::render(report)),
        Format::Html => Ok(render_html::render(report)),
        Format::Csv => render_csv::render(report),
        Format::Json => render_json::render(report),
    }
}

/// One-line verdict: `COMPLIANT: 6 of 6 nodes …`.
pub fn verdict_line(r: &Report) -> String {
    let s = &r.summary;
    format!(
        "{}: {} of {} nodes compliant with {} from {} to {}; {} breach(es), {} gap(s)",
        if s.compliant {
            "COMPLIANT"
        } else {
            "NOT COMPLIANT"
        },
        s.nodes_compliant,
        s.nodes,
        r.tolerance.label(),
        timeparse::format_ms(r.grid.start_ms),
        timeparse::format_ms(r.grid.end_ms()),
        s.breaches,
        s.gaps
    )
}

/// Why a node is (not) compliant, in words.
pub fn node_verdict(r: &Report, n: &NodeReport) -> String {
    if n.compliant(r.allowed_unmeasured) {
        if n.cells_unmeasured == 0 {
            "compliant".to_string()
        } else {
            "compliant (unmeasured within the allowed share)".to_string()
        }
    } else {
        let mut why = Vec::new();
        if n.cells_out > 0 {
            why.push(format!("{} breach(es)", n.breaches.len()));
        }
        if n.unmeasured_ratio() > r.allowed_unmeasured {
            why.push("unmeasured time".to_string());
        }
        format!("NOT compliant: {}", why.join(", "))
    }
}

/// Statements every format carries: how to read the numbers.
pub fn method_notes(r: &Report) -> Vec<String> {
    let step = timeparse::format_span(r.grid.step_ms);
    let mut notes = vec![
        format!(
            "The period is cut into {} cells of {step}; cell i covers (from + i·{step}, from + (i+1)·{step}] and is evaluated at its end with max_over_time/min_over_time over exactly [{step}], so each cell sees only the samples scraped inside it and no 5-minute lookback fills a gap.",
            r.grid.cells
        ),
        format!(
            "A cell is out of tolerance when the largest finite clock error bound scraped inside it exceeds {}; a bound exactly equal to the tolerance is within tolerance.",
            r.tolerance.label()
        ),
        "A cell is unmeasured (never counted as compliant) when it holds no bound sample, when the bound is +Inf or invalid, when the sync state is anything but synchronized (stale included), when chronyd was unreachable, or when a scrape of the exporter failed, at any moment inside the cell.".to_string(),
        format!(
            "A breach or gap shorter than the scrape interval cannot be seen; a breach seen in a cell is counted for the whole cell ({step}), and a gap of Prometheus itself shorter than {step} that leaves samples in every cell is not visible."
        ),
        "The bound is relative to chronyd's reference; traceability of that reference to UTC must be documented by the operator.".to_string(),
    ];
    if r.nodes.iter().any(|n| n.method.counters.is_some()) {
        notes.push("Nodes measured by the counters method: time in tolerance is the increase of the exporter's clockwatch_clock_error_bound_time_seconds_bucket at the tolerance (the next lower bucket when the tolerance is not a bucket boundary) between the counter readings scraped last in each cell; the exporter counts every sample interval, so a breach or a Prometheus outage between scrapes is counted exactly as long as the exporter ran. Unmeasured = wall time − seconds synchronized; a counter reset (exporter restart) makes the time back to the previous reading unmeasured. A cell is out of tolerance when its bucket increase shows synchronized time above the tolerance; the peak bound shown is the largest windowed peak (clockwatch_clock_error_bound_max_seconds) scraped in its cells; across cells without readings the totals stay exact and every cell of the stretch carries what happened in it.".to_string());
    }
    if r.grid.end_ms() != r.requested_to_ms {
        notes.push(format!(
            "The requested end {} is not a whole number of steps after the start; the report covers up to {}.",
            timeparse::format_ms(r.requested_to_ms),
            timeparse::format_ms(r.grid.end_ms())
        ));
    }
    if r.allowed_unmeasured > 0.0 {
        notes.push(format!(
            "Verdict rule: a node is compliant when nothing is out of tolerance and at most {:.4}% of its period is unmeasured.",
            r.allowed_unmeasured * 100.0
        ));
    } else {
        notes.push("Verdict rule: a node is compliant only when nothing is out of tolerance and nothing is unmeasured.".to_string());
    }
    notes
}

/// Seconds within, out of tolerance and unmeasured: exact from the
/// counters, else cells × step.
pub fn node_seconds(r: &Report, n: &NodeReport) -> (f64, f64, f64) {
    match &n.method.counters {
        Some(a) => (a.within_s, a.out_s(), a.unmeasured_s()),
        None => {
            let step = r.grid.step_ms as f64 / 1000.0;
            (
                n.cells_within as f64 * step,
                n.cells_out as f64 * step,
                n.cells_unmeasured as f64 * step,
            )
        }
    }
}

/// `counters: why` / `grid: why`, for every format.
pub fn method_line(n: &NodeReport) -> String {
    format!("{}: {}", n.method.name(), n.method.why)
}

/// A ratio as a percentage with 4 decimals.
pub fn pct(v: f64) -> String {
    format!("{:.4}%", v * 100.0)
}

/// Optional bound, formatted.
pub fn opt_seconds(v: Option<f64>) -> String {
    v.map(profile::format_seconds)
        .unwrap_or_else(|| "-".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: ReportArgs,
    }

    fn args(extra: &[&str]) -> ReportArgs {
        let mut v = vec![
            "t",
            "--prometheus",
            "http://127.0.0.1:1",
            "--tolerance",
            "mifid2-hft",
        ];
        v.extend_from_slice(extra);
        T::parse_from(v).args
    }

    const NOW: i64 = 1_714_521_600_000;

    #[test]
    fn plan_grid() {
        let p = Plan::new(
            &args(&["--from", "now-1h", "--to", "now", "--step", "15s"]),
            NOW,
        )
        .expect("plan");
        assert_eq!(p.grid.cells, 240);
        assert_eq!(p.grid.end_ms(), NOW);
        let p = Plan::new(
            &args(&["--from", "now-61s", "--to", "now", "--step", "15s"]),
            NOW,
        )
        .expect("plan");
        assert_eq!(p.grid.cells, 4);
        assert_eq!(p.grid.end_ms(), NOW - 1000);
    }

    #[test]
    fn plan_errors() {
        let e = Plan::new(&args(&["--from", "now-1h", "--to", "now+1h"]), NOW).expect_err("future");
        assert!(e.to_string().contains("is in the future"), "{e}");
        let e = Plan::new(&args(&["--from", "now", "--to", "now-1h"]), NOW).expect_err("empty");
        assert!(e.to_string().contains("is not before"), "{e}");
        let e = Plan::new(&args(&["--from", "now-10s", "--to", "now"]), NOW).expect_err("short");
        assert!(e.to_string().contains("shorter than one"), "{e}");
        assert!(Plan::new(&args(&["--from", "now-1h", "--step", "500ms"]), NOW).is_err());
        assert!(Plan::new(&args(&["--from", "now-1h", "--selector", "x"]), NOW).is_err());
    }

    fn sample_report() -> Report {
        use analysis::CellInput;
        let grid = Grid {
            start_ms: NOW,
            step_ms: 15_000,
            cells: 4,
        };
        let ok = |v: f64| CellInput {
            bound_peak: Some(v),
            ..CellInput::default()
        };
        let tolerance = profile::parse_tolerance("mifid2-hft").expect("profile");
        let tol = tolerance.seconds();
        let nodes = vec![
            analysis::analyze_node("a,\"weird\" <node>|x", &grid, &[ok(0.00001); 4], tol),
            analysis::analyze_node(
                "b",
                &grid,
                &[ok(0.00001), ok(0.0002), CellInput::default(), ok(0.0001)],
                tol,
            ),
        ];
        let summary = analysis::summarize(&nodes, 0.0);
        Report {
            generated_ms: NOW + 3_600_000,
            prometheus: "http://p:9090".to_string(),
            selector: "{cluster=\"prod\"}".to_string(),
            requested_from_ms: NOW,
            requested_to_ms: NOW + 61_000,
            grid,
            tolerance,
            allowed_unmeasured: 0.0,
            nodes,
            summary,
            queries: vec!["q".to_string()],
            traceability: Default::default(),
        }
    }

    #[test]
    fn renderers_escape_and_parse_back() {
        let r = sample_report();
        let csv_text = render(&r, Format::Csv).expect("csv");
        let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
        let rows: Vec<csv::StringRecord> = rd.records().map(|x| x.expect("row")).collect();
        assert_eq!(
            rows.len(),
            1 + 2 + 1 + 1 + 2 + 2,
            "cluster, 2 nodes, 1 breach, 1 gap, 2 method rows, 2 reference rows"
        );
        assert_eq!(&rows[1][1], "a,\"weird\" <node>|x");
        assert_eq!(&rows[3][0], "breach");
        assert_eq!(&rows[3][10], "0.0002");
        assert_eq!(&rows[4][13], "no sample");

        let json: serde_json::Value =
            serde_json::from_str(&render(&r, Format::Json).expect("json")).expect("parse");
        assert_eq!(json["nodes"][1]["breaches"][0]["duration_seconds"], 15.0);
        assert_eq!(json["nodes"][1]["gaps"][0]["reasons"][0], "no sample");
        assert_eq!(json["verdict"]["compliant"], false);
        assert_eq!(json["period"]["to"], "2024-05-01T00:01:00Z");

        let html = render(&r, Format::Html).expect("html");
        assert!(html.contains("a,&quot;weird&quot; &lt;node&gt;|x"));
        assert!(!html.contains("<node>"));
        assert!(html.contains("not a whole number of steps"));

        let md = render(&r, Format::Md).expect("md");
        assert!(md.contains("| a,\"weird\" &lt;node>\\|x |"), "{md}");
        assert!(md.contains("**Verdict: NOT COMPLIANT**"));
    }

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("0").expect("r"), 0.0);
        assert!((parse_ratio("0.1%").expect("r") - 0.001).abs() < 1e-15);
        assert_eq!(parse_ratio("0.5").expect("r"), 0.5);
        assert!(parse_ratio("150%").is_err());
        assert!(parse_ratio("x").is_err());
    }
}

//! The edge between the command line and the library: flags → settings → one command,
//! and the one place operational errors are written for people (or as JSON).

use std::io::{BufReader, IsTerminal, Write, stdin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::{self, CheckFormat, Cli, Command, PlanCommand, QueryFormat, SchemaKind};
use crate::diagnostic::render::{OutputFormat, RenderOptions, render};
use crate::error::{self, Error};
use crate::settings::{self, Overrides, Settings};
use crate::{commands, output, schema, server};

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let json_errors =
        matches!(&cli.command, Command::Query(q) if q.json || q.format == QueryFormat::Json);
    match dispatch(cli, out, err) {
        Ok(code) => code,
        Err(e) => {
            if json_errors {
                report_error_json(&e, err);
            } else {
                report_error(&e, err);
            }
            e.exit_code()
        }
    }
}

/// `{"error_type", "message", "details"}` on stderr, for callers that parse JSON.
fn report_error_json(e: &Error, err: &mut dyn Write) {
    let (message, details) = match e {
        Error::Run(run) => (
            run.message.clone(),
            serde_json::Value::Object(run.details.clone()),
        ),
        Error::InvalidPlan(report) | Error::InvalidConfig(report) => (
            e.to_string(),
            serde_json::json!({ "diagnostics": report.diagnostics }),
        ),
        other => (other.to_string(), serde_json::json!({})),
    };
    let mut body =
        serde_json::json!({ "error_type": e.error_type(), "message": message, "details": details });
    if let Error::Run(run) = e
        && !run.warnings.is_empty()
    {
        body["warnings"] = serde_json::json!(run.warnings);
    }
    let _ = writeln!(err, "{body}");
}

fn dispatch(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Error> {
    match cli.command {
        Command::Schema { which, db, config } => print_schema(which, db, &config, out),
        Command::Plan(PlanCommand::Check(args)) => plan_check(args, use_color(cli.color), out),
        Command::Plan(PlanCommand::Lock(args)) => {
            let settings = Settings::from_process_env(&overrides(&args.config, None))?;
            let request = commands::lock::LockRequest {
                paths: args.paths,
                check: args.check,
            };
            commands::lock::run(&request, &settings, out)
        }
        Command::Plan(PlanCommand::Estimate(args)) => {
            let settings = Settings::from_process_env(&overrides(&args.config, None))?;
            let json = args.format == cli::EstimateFormat::Json;
            commands::estimate::run(&args.plan, &args.params, json, &settings, out)
        }
        Command::Plan(PlanCommand::Run(args)) if args.estimate_only => {
            let settings = Settings::from_process_env(&overrides(&args.config, args.db.clone()))?;
            commands::estimate::run(&args.plan, &args.params, false, &settings, out)
        }
        Command::Plan(PlanCommand::Run(args)) => {
            let mut flags = overrides(&args.config, args.db.clone());
            flags.cache = (args.cache || args.no_cache).then_some(args.cache);
            flags.refresh_cache = args.refresh;
            let settings = Settings::from_process_env(&flags)?;
            let request = commands::run::RunRequest {
                progress: !args.quiet && std::io::stderr().is_terminal(),
                plan: args.plan,
                params: args.params,
                output_dir: args.output_dir,
                report: args.report,
                quiet: args.quiet,
            };
            commands::run::run(&request, &settings, cancel_on_ctrl_c(), out, err)
        }
        Command::Cache(cmd) => {
            let (args, clear) = match cmd {
                cli::CacheCommand::Ls(a) => (a, false),
                cli::CacheCommand::Clear(a) => (a, true),
            };
            let settings = Settings::from_process_env(&overrides(&args.config, None))?;
            commands::cache::run(clear, args.json, &settings, out)
        }
        Command::Serve(args) => serve(&args, err),
        Command::Query(args) => query(args, out, err),
        Command::Catalog(args) => {
            let settings = Settings::from_process_env(&overrides(&args.config, args.db))?;
            let format = match args.format {
                cli::CatalogFormat::Table => commands::catalog::Format::Table,
                cli::CatalogFormat::Json => commands::catalog::Format::Json,
            };
            commands::catalog::run(&settings, format, out, err)
        }
        Command::Mcp(args) => {
            let settings = Settings::from_process_env(&overrides(&args.config, args.db))?;
            commands::mcp::run(settings, workers()?, out, err)
        }
        Command::Worker => worker(out),
        Command::Completions { shell } => {
            commands::completions::run(shell, out).map_err(|source| Error::Io {
                context: "cannot write the completion script".to_owned(),
                source,
            })?;
            Ok(error::exit::OK)
        }
    }
}

fn print_schema(
    which: SchemaKind,
    db: Option<std::path::PathBuf>,
    config: &cli::ConfigArgs,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let kind = match which {
        SchemaKind::Plan => schema::Kind::Plan,
        SchemaKind::Config => schema::Kind::Config,
        SchemaKind::Lock => schema::Kind::Lock,
        SchemaKind::Snapshot => {
            let settings = Settings::from_process_env(&overrides(config, db))?;
            return commands::schema::snapshot(&settings, out);
        }
    };
    commands::schema::run(kind, out).map_err(|source| Error::Io {
        context: "cannot write the schema".to_owned(),
        source,
    })?;
    Ok(error::exit::OK)
}

fn plan_check(args: cli::CheckArgs, color: bool, out: &mut dyn Write) -> Result<u8, Error> {
    let settings = Settings::from_process_env(&overrides(&args.config, args.db.clone()))?;
    let format = match args.format {
        CheckFormat::Human => OutputFormat::Human,
        CheckFormat::Json => OutputFormat::Json,
        CheckFormat::Github => OutputFormat::Github,
        CheckFormat::Sarif => OutputFormat::Sarif,
    };
    let request = commands::check::CheckRequest {
        paths: args.paths,
        format,
        params: args.params,
        color: format == OutputFormat::Human && color,
        db: args.db,
        schema_snapshot: args.schema_snapshot,
    };
    commands::check::run(&request, &settings, out)
}

fn serve(args: &cli::ServeArgs, err: &mut dyn Write) -> Result<u8, Error> {
    let settings = Settings::from_process_env(&overrides(&args.config, args.db.clone()))?;
    if settings.config.server.tokens.is_empty() {
        let _ = writeln!(
            err,
            "warning: no server.tokens configured: every API call will be refused with 401"
        );
    }
    let _ = writeln!(err, "da serve: listening on http://{}", args.listen);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "cannot start the server runtime".to_owned(),
            source,
        })?;
    rt.block_on(server::serve(settings, workers()?, &args.listen))?;
    Ok(error::exit::OK)
}

/// What a worker may be asked, by `da serve` or by `da mcp` (each job names itself in its
/// `job` field, so the two never read alike).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum WorkerJob {
    Server(server::Job),
    Mcp(crate::mcp::Job),
}

/// `da worker`: one job from stdin, its answer to stdout.
fn worker(out: &mut dyn Write) -> Result<u8, Error> {
    let input = Box::new(BufReader::new(stdin()));
    crate::worker::serve_one(input, out, |job: WorkerJob, settings, cancel| match job {
        WorkerJob::Server(job) => serde_json::to_value(job.run(settings, cancel)),
        WorkerJob::Mcp(job) => serde_json::to_value(job.run(settings, cancel)),
    })
}

/// Workers run as this very executable (`da worker`).
fn workers() -> Result<crate::worker::Workers, Error> {
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        context: "cannot find the da executable to start workers from".to_owned(),
        source,
    })?;
    Ok(crate::worker::Workers::new(exe))
}

fn query(args: cli::QueryArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Error> {
    let settings = Settings::from_process_env(&overrides(&args.config, args.db.clone()))?;
    let stdin = if args.stdin {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|source| {
            Error::Io {
                context: "cannot read stdin".to_owned(),
                source,
            }
        })?;
        Some(text)
    } else {
        None
    };
    let format = match (args.json, args.format) {
        (true, _) | (_, QueryFormat::Json) => output::Format::Json,
        (_, QueryFormat::Table) => output::Format::Table,
        (_, QueryFormat::Csv) => output::Format::Csv,
        (_, QueryFormat::Ndjson) => output::Format::Ndjson,
        (_, QueryFormat::Parquet) => output::Format::Parquet,
    };
    let request = commands::query::QueryRequest {
        input: commands::query::QueryInput {
            positional: args.sql_positional,
            sql: args.sql,
            stdin,
            register_bq: args.register_bq,
            params: args.params,
        },
        format,
        output: args.output,
        limit: args.limit,
        quiet: args.quiet,
        progress: !args.quiet && std::io::stderr().is_terminal(),
    };
    commands::query::run(&request, &settings, cancel_on_ctrl_c(), out, err)
}

/// The flags every configuration-reading command shares, as settings overrides.
fn overrides(config: &cli::ConfigArgs, database: Option<std::path::PathBuf>) -> Overrides {
    Overrides {
        config: config.config.clone(),
        credentials: config.credentials.clone(),
        database,
        ..Overrides::default()
    }
}

/// A flag set by the first Ctrl-C, so a run can cancel its work and leave outputs intact.
/// A second Ctrl-C exits at once (outputs are renamed into place, never half-written).
fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                set.store(true, Ordering::Relaxed);
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(error::exit::INTERRUPTED));
            }
        });
    });
    flag
}

/// The one place color is decided: `--color`, else a terminal without `NO_COLOR`.
fn use_color(choice: cli::ColorChoice) -> bool {
    match choice {
        cli::ColorChoice::Always => true,
        cli::ColorChoice::Never => false,
        cli::ColorChoice::Auto => std::io::stdout().is_terminal() && !settings::no_color(),
    }
}

/// The one place operational errors are written for humans: `error:`, its causes, and
/// for configuration files every positioned diagnostic.
fn report_error(e: &Error, err: &mut dyn Write) {
    // Writing to stderr can only fail if stderr is gone; there is nowhere left to report.
    let _ = match e {
        Error::InvalidConfig(report) | Error::InvalidPlan(report) => render(
            std::slice::from_ref(report),
            OutputFormat::Human,
            &RenderOptions { color: false },
            env!("CARGO_PKG_VERSION"),
            err,
        )
        .and_then(|()| writeln!(err, "error: {e}")),
        Error::Run(run) => run
            .warnings
            .iter()
            .try_for_each(|w| writeln!(err, "warning: {w}"))
            .and_then(|()| writeln!(err, "error[{}]: {}", run.error_type.code(), run.message))
            .and_then(|()| match &run.hint {
                Some(hint) => writeln!(err, "  hint: {hint}"),
                None => Ok(()),
            }),
        other => {
            let mut text = format!("error: {other}");
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            writeln!(err, "{text}")
        }
    };
}

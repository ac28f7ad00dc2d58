use clap::{CommandFactory, Parser};
use gold_digger::cli::{Cli, Command};
use gold_digger::config::Config;
use gold_digger::conn::cancel::Canceller;
use gold_digger::progress::{self, Meter};
use gold_digger::{Error, export, parallel};
use std::io::IsTerminal;
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Err(e) = gold_digger::cli::check_password_habits(&args) {
        eprintln!("gold_digger: {e}");
        return ExitCode::from(e.exit_code());
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors are 2.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if let Some(Command::Completion { shell }) = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "gold_digger",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gold_digger: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: &Cli) -> Result<(), Error> {
    let mut config = Config::resolve(cli, &|name| std::env::var(name).ok())?;
    init_logging(config.verbosity, config.quiet);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    if cli.dump_config {
        let json =
            serde_json::to_string_pretty(&config).map_err(|e| Error::Usage(e.to_string()))?;
        println!("{json}");
        return Ok(());
    }
    config.ask_password()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the runtime: {e}")))?;
    let canceller = Canceller::new(&config.connect);
    let show_progress = match config.progress {
        Some(force) => force,
        None => !config.quiet && std::io::stderr().is_terminal(),
    };
    let meter = show_progress.then(|| Meter::new(config.progress == Some(true)));
    let started = std::time::Instant::now();
    let summary = runtime.block_on(async {
        let install = |kind| {
            signal(kind).map_err(|e| Error::Usage(format!("cannot install signal handlers: {e}")))
        };
        let mut int = install(SignalKind::interrupt())?;
        let mut term = install(SignalKind::terminate())?;
        // A closed terminal or SSH session: handled as SIGTERM, never with
        // the default action, which would leave the temporary file behind.
        let mut hup = install(SignalKind::hangup())?;
        let meter = meter.clone();
        let mut export = std::pin::pin!(async {
            if config.parallel.threads > 1 {
                parallel::run(&config, &canceller, meter).await
            } else {
                export::run(&config, &canceller, meter).await
            }
        });
        let (name, code) = tokio::select! {
            result = &mut export => return result,
            _ = int.recv() => ("SIGINT", 130),
            _ = term.recv() => ("SIGTERM", 143),
            _ = hup.recv() => ("SIGHUP", 129),
        };
        // The server would go on with the query after we leave: stop it
        // (bounded in time) while our connection is still open. The export
        // is dropped on return, which removes its temporary file.
        canceller.cancel().await;
        Err(Error::Interrupted { name, code })
    })?;
    if let Some(affected_rows) = summary.no_result_set {
        tracing::warn!(
            "the statement returned no result set; {affected_rows} rows affected; no output written"
        );
        return Ok(());
    }
    if let Some(meter) = &meter {
        meter.finish();
    }
    // One summary line on a terminal (where the progress display was), or with -v.
    if meter.is_some() || (config.verbosity > 0 && !config.quiet) {
        eprintln!(
            "{}",
            progress::summary_line(&summary, started.elapsed(), &config.output)
        );
    }
    Ok(())
}

fn init_logging(verbosity: u8, quiet: bool) {
    use tracing::Level;
    let level = match (quiet, verbosity) {
        (true, _) => Level::ERROR,
        (false, 0) => Level::WARN,
        (false, 1) => Level::INFO,
        (false, 2) => Level::DEBUG,
        (false, _) => Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}

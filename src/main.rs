use clap::{CommandFactory, Parser};
use gold_digger::cli::{Cli, Command};
use gold_digger::config::Config;
use gold_digger::{Error, export};
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
    let config = Config::resolve(cli, &|name| std::env::var(name).ok())?;
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the runtime: {e}")))?;
    let summary = runtime.block_on(async {
        let (mut int, mut term) = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            (Err(e), _) | (_, Err(e)) => {
                return Err(Error::Usage(format!("cannot install signal handlers: {e}")));
            }
        };
        // Dropping the export future on a signal drops its temporary file.
        tokio::select! {
            result = export::run(&config) => result,
            _ = int.recv() => Err(Error::Interrupted { name: "SIGINT", code: 130 }),
            _ = term.recv() => Err(Error::Interrupted { name: "SIGTERM", code: 143 }),
        }
    })?;
    tracing::info!(
        rows = summary.rows,
        bytes = summary.bytes,
        "exported to {}",
        config.output.display()
    );
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

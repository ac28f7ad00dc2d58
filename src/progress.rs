//! Progress of a long export on a terminal: rows, bytes, rate and elapsed
//! time, and a percentage and ETA when the total is known (the table's
//! statistics for `--table`, the server's estimate with `--threads`).
//!
//! The display is fed from the counters the export keeps anyway, and only
//! when a whole output block goes to the sink (every 2 MiB), never per row;
//! indicatif redraws it a few times a second from its own thread, so the
//! clock moves even while the server thinks before its first row.

use crate::export::Summary;
use indicatif::{HumanBytes, HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// Redraws per second.
const REFRESH_HZ: u8 = 5;

/// A progress display, shared by every connection of an export.
#[derive(Debug, Clone)]
pub struct Meter {
    bar: ProgressBar,
    started: Instant,
}

impl Meter {
    /// A display on stderr. `force` draws it even when stderr is not a
    /// terminal (`--progress`); otherwise it shows only on a terminal.
    pub fn new(force: bool) -> Self {
        let target = if force {
            ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), REFRESH_HZ)
        } else {
            ProgressDrawTarget::stderr_with_hz(REFRESH_HZ)
        };
        let bar = ProgressBar::with_draw_target(None, target).with_style(unknown_total());
        bar.set_message("waiting for the first row");
        bar.enable_steady_tick(Duration::from_millis(1000 / u64::from(REFRESH_HZ)));
        Self {
            bar,
            started: Instant::now(),
        }
    }

    /// The number of rows expected (an estimate): adds a percentage and an ETA.
    pub fn set_total(&self, rows: u64) {
        if rows > 0 {
            self.bar.set_length(rows);
            self.bar.set_style(known_total());
            // Shown at once, even if the export ends before the next redraw.
            self.bar.force_draw();
        }
    }

    /// Rows and bytes written so far.
    pub fn update(&self, rows: u64, bytes: u64) {
        self.bar.set_position(rows);
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let bytes_per_second = HumanBytes((bytes as f64 / seconds) as u64);
        self.bar.set_message(if self.bar.length().is_some() {
            format!("{}, {bytes_per_second}/s", HumanBytes(bytes))
        } else {
            let rows_per_second = HumanCount((rows as f64 / seconds) as u64);
            format!(
                "{}, {bytes_per_second}/s, {rows_per_second} rows/s",
                HumanBytes(bytes)
            )
        });
    }

    /// Removes the display (the caller prints the summary line).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Time since the display was created.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // The export's clone dropped on an error or a signal: clear the
        // line, so that the error message starts on a clean one.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

fn unknown_total() -> ProgressStyle {
    // The template is a constant: it cannot fail to parse.
    ProgressStyle::with_template("{spinner} {elapsed_precise}  {human_pos} rows, {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn known_total() -> ProgressStyle {
    // The bar takes what the terminal has left, so the line never wraps.
    ProgressStyle::with_template(
        "{elapsed_precise} {percent:>3}%  {human_pos}/~{human_len} rows  {msg}  ETA {eta} \
         [{wide_bar}]",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The line printed after an export on a terminal (or with `-v`).
pub fn summary_line(summary: &Summary, elapsed: Duration, output: &std::path::Path) -> String {
    let seconds = elapsed.as_secs_f64().max(1e-3);
    format!(
        "exported {} rows, {} in {:.2} s ({} rows/s) to {}",
        HumanCount(summary.rows),
        HumanBytes(summary.bytes),
        seconds,
        HumanCount((summary.rows as f64 / seconds) as u64),
        match summary.parts {
            Some(parts) => crate::split::describe(output, parts),
            None if output.as_os_str() == "-" => "stdout".to_string(),
            None => output.display().to_string(),
        }
    )
}

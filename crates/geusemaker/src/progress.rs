//! Progress on stderr: bars on a terminal, plain lines with -v, nothing with --quiet.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws the engine's progress.
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
    quiet: bool,
    verbose: bool,
}

impl Bars {
    /// Progress for these output settings.
    pub fn new(quiet: bool, verbose: bool) -> Bars {
        Bars {
            bar: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
            quiet,
            verbose,
        }
    }

    /// Clears any bar.
    pub fn finish(&self) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(bar) = b.take() {
                bar.finish_and_clear();
            }
        }
    }
}

impl gm_engine::Progress for Bars {
    fn phase(&self, name: &str, total: u64) {
        if self.quiet {
            return;
        }
        self.finish();
        if self.tty {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:<28} [{bar:30}] {pos}/{len} {elapsed}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(name.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            if let Ok(mut b) = self.bar.lock() {
                *b = Some(bar);
            }
        } else if self.verbose {
            eprintln!("{name}…");
        }
    }

    fn step(&self, address: &str, message: &str) {
        if self.quiet {
            return;
        }
        if let Ok(b) = self.bar.lock() {
            if let Some(bar) = b.as_ref() {
                bar.inc(1);
                return;
            }
        }
        if self.verbose {
            eprintln!("  {address}: {message}");
        }
    }

    fn note(&self, message: &str) {
        if self.quiet {
            return;
        }
        if let Ok(b) = self.bar.lock() {
            if let Some(bar) = b.as_ref() {
                bar.println(format!("note: {message}"));
                return;
            }
        }
        eprintln!("note: {message}");
    }
}

//! Live progress: one line per step with the elapsed time, on stdout. CI logs
//! are not terminals, so there the output is exactly those lines, no cursor
//! movement; only when stdout is a terminal does a spinner redraw a status
//! line below them. A line is written whole so the two lanes' lines never
//! interleave mid-line.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
/// Erase the current terminal line (the spinner's) before writing over it.
const CLEAR: &str = "\r\x1b[2K";

/// Where progress lines go; cloned into each lane.
#[derive(Clone)]
pub struct Progress {
    start: Instant,
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
    spinner: bool,
    /// Applied to every line before it is written.
    masker: super::mask::Masker,
}

impl Progress {
    /// Lines on stdout, with a spinner only when stdout is a terminal.
    pub fn stdout() -> Self {
        let out = std::io::stdout();
        let tty = out.is_terminal();
        Self::new(Box::new(out), tty)
    }

    /// Plain lines into `sink` (no spinner): what a CI log gets.
    pub fn to(sink: Box<dyn Write + Send>) -> Self {
        Self::new(sink, false)
    }

    /// Lines into `sink`, with a spinner redrawn below them when `spinner`.
    /// The spinner's thread ends once every clone of this `Progress` is gone.
    pub fn new(sink: Box<dyn Write + Send>, spinner: bool) -> Self {
        let p = Progress {
            start: Instant::now(),
            sink: Arc::new(Mutex::new(sink)),
            spinner,
            masker: super::mask::Masker::new(),
        };
        if spinner {
            let weak = Arc::downgrade(&p.sink);
            let start = p.start;
            std::thread::spawn(move || spin(&weak, start));
        }
        p
    }

    /// A sink that drops everything (library callers that want no output).
    pub fn silent() -> Self {
        Self::to(Box::new(std::io::sink()))
    }

    /// The same sink, masking every line with `masker` (shared: values added
    /// to it later are masked from then on).
    pub fn with_masker(mut self, masker: super::mask::Masker) -> Self {
        self.masker = masker;
        self
    }

    /// The run's masker: where a step that learns a secret value puts it.
    pub fn masker(&self) -> &super::mask::Masker {
        &self.masker
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    /// `[  12.3s] <scope>: <message>`
    pub fn line(&self, scope: &str, message: &str) {
        let secs = self.start.elapsed().as_secs_f64();
        let message = self.masker.redact(message);
        let text = if self.spinner {
            format!("{CLEAR}[{secs:7.1}s] {scope}: {message}\n")
        } else {
            format!("[{secs:7.1}s] {scope}: {message}\n")
        };
        if let Ok(mut sink) = self.sink.lock() {
            // Progress is best effort: a closed stdout must not fail the run.
            let _ = sink.write_all(text.as_bytes());
            let _ = sink.flush();
        }
    }
}

/// Redraw `<frame> <elapsed>` on the terminal's last line until the sink is
/// dropped; best effort like every progress write.
fn spin(sink: &Weak<Mutex<Box<dyn Write + Send>>>, start: Instant) {
    for frame in FRAMES.iter().cycle() {
        std::thread::sleep(Duration::from_millis(120));
        let Some(sink) = sink.upgrade() else { return };
        let secs = start.elapsed().as_secs_f64();
        if let Ok(mut w) = sink.lock() {
            let _ = write!(w, "{CLEAR}{frame} {secs:.1}s");
            let _ = w.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn secret_values_and_token_shapes_never_reach_a_line() {
        let buf = Buf::default();
        let m = super::super::mask::Masker::new();
        let p = Progress::to(Box::new(buf.clone())).with_masker(m.clone());
        // Added after the progress was made: still masked.
        m.add("planted-secret-value");
        p.line("fresh", "abra said: planted-secret-value failed");
        p.line("fresh", &format!("token ghp_{}", "x".repeat(30)));
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("abra said: *** failed"), "{text}");
        assert!(text.contains("token ***"), "{text}");
        assert!(!text.contains("planted-secret-value"));
    }

    #[test]
    fn each_line_carries_elapsed_time_and_scope() {
        let buf = Buf::default();
        let p = Progress::to(Box::new(buf.clone()));
        p.line("fresh", "deploying");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.starts_with("[    0.0s] fresh: deploying\n"),
            "{text:?}"
        );
    }

    #[test]
    fn without_a_terminal_each_step_is_exactly_one_plain_line() {
        let buf = Buf::default();
        let p = Progress::to(Box::new(buf.clone()));
        for i in 0..3 {
            p.line("upgrade", &format!("step {i}"));
            // Long enough for a spinner, were there one, to draw.
            std::thread::sleep(Duration::from_millis(150));
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text:?}");
        assert!(text.ends_with('\n'));
        assert!(!text.contains(['\r', '\x1b']), "{text:?}");
        for (i, l) in lines.iter().enumerate() {
            assert!(l.ends_with(&format!("] upgrade: step {i}")), "{l:?}");
        }
    }

    #[test]
    fn on_a_terminal_a_spinner_redraws_below_the_lines() {
        let buf = Buf::default();
        let p = Progress::new(Box::new(buf.clone()), true);
        p.line("fresh", "deploying");
        std::thread::sleep(Duration::from_millis(400));
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.starts_with("\r\x1b[2K[    0.0s] fresh: deploying\n"),
            "{text:?}"
        );
        let after = &text[text.find('\n').unwrap() + 1..];
        assert!(after.starts_with("\r\x1b[2K"), "{after:?}");
        assert!(FRAMES.iter().any(|f| after.contains(*f)), "{after:?}");
    }
}

//! Live progress: one line per step with the elapsed time, on stdout. CI logs
//! are not terminals, so there is no spinner and no cursor movement here; a
//! line is written whole so the two lanes' lines never interleave mid-line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where progress lines go; cloned into each lane.
#[derive(Clone)]
pub struct Progress {
    start: Instant,
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Progress {
    pub fn stdout() -> Self {
        Self::to(Box::new(std::io::stdout()))
    }

    pub fn to(sink: Box<dyn Write + Send>) -> Self {
        Progress {
            start: Instant::now(),
            sink: Arc::new(Mutex::new(sink)),
        }
    }

    /// A sink that drops everything (library callers that want no output).
    pub fn silent() -> Self {
        Self::to(Box::new(std::io::sink()))
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    /// `[  12.3s] <scope>: <message>`
    pub fn line(&self, scope: &str, message: &str) {
        let secs = self.start.elapsed().as_secs_f64();
        let text = format!("[{secs:7.1}s] {scope}: {message}\n");
        if let Ok(mut sink) = self.sink.lock() {
            // Progress is best effort: a closed stdout must not fail the run.
            let _ = sink.write_all(text.as_bytes());
            let _ = sink.flush();
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
}

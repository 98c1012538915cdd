//! A child's stderr, collected line by line on a thread and readable while it runs.

use std::io::{BufRead, BufReader};
use std::process::ChildStderr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The lines a child wrote to stderr so far.
pub struct StderrLines {
    lines: Arc<Mutex<Vec<String>>>,
    /// Ends when every process holding the pipe's write end has closed it.
    reader: JoinHandle<()>,
}

impl StderrLines {
    /// Starts collecting `stderr`; with `echo` set, each line is also printed after it.
    pub fn collect(stderr: ChildStderr, echo: Option<&'static str>) -> StderrLines {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(prefix) = echo {
                    eprintln!("{prefix} {line}");
                }
                sink.lock().unwrap().push(line);
            }
        });
        StderrLines { lines, reader }
    }

    /// Every line so far.
    pub fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// How many lines so far.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// The first line from index `from` on that contains `needle`.
    pub fn find_after(&self, from: usize, needle: &str) -> Option<String> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .skip(from)
            .find(|l| l.contains(needle))
            .cloned()
    }

    /// True when any line so far satisfies `test`.
    pub fn any(&self, test: impl Fn(&str) -> bool) -> bool {
        self.lines.lock().unwrap().iter().any(|l| test(l))
    }

    /// After the child exited: waits until `deadline` at most for the collector to read
    /// to the end, so [`StderrLines::all`] holds the last lines too. A process the
    /// child left holding the pipe is what the deadline is for.
    pub fn wait_for_end(&self, deadline: Instant) {
        while !self.reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

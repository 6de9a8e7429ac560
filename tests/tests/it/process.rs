//! The coordinator and agent programs run as processes, for the suites
//! where a kill or a pause is the point: their stderr lines collected as
//! they come, waited for by content with a generous bound.

use gpes_client::Uplink;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest any wait for a log line takes before the test fails.
pub const LINE_WAIT: Duration = Duration::from_secs(60);

/// A child process whose stderr lines are collected as they come.
pub struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    pub fn spawn(mut cmd: Command) -> Process {
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
        // The tests wait for info lines, whatever the runner's RUST_LOG.
        if !cmd.get_envs().any(|(k, _)| k == "RUST_LOG") {
            cmd.env("RUST_LOG", "info");
        }
        let mut child = cmd.spawn().expect("process starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Process {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line seen so far containing every one of `parts`, after
    /// taking in what has arrived, without waiting.
    pub fn seen_line(&mut self, parts: &[&str]) -> Option<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .cloned()
    }

    /// Waits for a log line containing every one of `parts`; returns it.
    pub fn wait_for(&mut self, parts: &[&str]) -> String {
        let deadline = Instant::now() + LINE_WAIT;
        loop {
            if let Some(line) = self.seen_line(parts) {
                return line;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no log line with {parts:?} within {LINE_WAIT:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    pub fn kill(&mut self) {
        // SIGKILL: no chance to tidy up.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name (`STOP`, `CONT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit on its own, at most `bound`.
    pub fn wait_exit(&mut self, bound: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit within {bound:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Lines seen so far plus whatever is left once the process is gone.
    pub fn all_lines(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGKILL promptly
        // on every system; harmless otherwise.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(self.child.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        self.kill();
    }
}

/// Waits until one of `processes` logs a line with every one of `parts`;
/// returns its index.
pub fn first_to_log(processes: &mut [&mut Process], parts: &[&str]) -> usize {
    let deadline = Instant::now() + LINE_WAIT;
    loop {
        for (i, p) in processes.iter_mut().enumerate() {
            if p.seen_line(parts).is_some() {
                return i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no process logged {parts:?} within {LINE_WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The coordinator program with a configuration file.
pub fn coordinator(config: &Path) -> Process {
    coordinator_with(config, &[])
}

/// The coordinator program with a configuration file and environment.
pub fn coordinator_with(config: &Path, env: &[(&str, &str)]) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_e2e-coordinator"));
    cmd.arg("--config").arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Process::spawn(cmd)
}

pub fn agent(config: &Path, delay_ms: Option<u64>) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_e2e-agent"));
    cmd.arg("--config").arg(config).arg("run");
    if let Some(ms) = delay_ms {
        cmd.env(gpes_agent::daemon::TEST_DELAY_ENV, ms.to_string());
    }
    Process::spawn(cmd)
}

/// An operator's uplink to a coordinator process, from its data directory.
pub fn operator(data_dir: &Path, address: &str) -> Uplink {
    let ca = std::fs::read_to_string(data_dir.join("ca/ca.pem")).expect("ca");
    let token = std::fs::read_to_string(data_dir.join("admin.token")).expect("token");
    Uplink::new(address, gpes_pki::operator_client_config(&ca).expect("tls"))
        .expect("uplink")
        .with_bearer(token.trim())
}

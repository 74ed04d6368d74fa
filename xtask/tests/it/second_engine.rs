//! A second, throwaway docker engine for tests: its own network namespace, mount namespace, data root and TCP address.
//!
//! The engine at /var/run/docker.sock is shared and must keep working, and a second `dockerd` in the host's network
//! namespace breaks it: at start it deletes the host's `docker0` bridge when given another `--bridge`, and with
//! iptables on it flushes the shared `DOCKER` and `DOCKER-ISOLATION-*` chains (both seen on this machine). So the
//! second engine gets a network namespace of its own, joined to the host by a veth pair: it listens on
//! `tcp://10.211.N.2:2375`, a different address than the host's, keeps its bridges and iptables rules to itself,
//! and reaches PyPI through two host rules (a MASQUERADE and a FORWARD accept, tagged with a comment and removed on
//! drop). Its mount namespace hides the host's `/tmp` under an empty tmpfs: the test projects live in `/tmp`, so a
//! bind mount of a project path could not work there, which is what proves that files travel through the API.
//!
//! A test setup, so it drives `ip`, `iptables`, `unshare`, `nsenter` and `dockerd` directly. It needs root; without
//! root or dockerd it skips loudly, and under `CI=true` it fails instead.
#![allow(
    clippy::disallowed_methods,
    reason = "the test support runs dockerd in its own namespaces (unshare, nsenter, ip, iptables, kill) and polls it from synchronous code"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use dockyard_engine::Engine;

use crate::support::runtime;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A running second engine; dropping it stops the engine and removes everything it set up.
pub struct SecondEngine {
    /// `tcp://10.211.N.2:2375`, the engine's address as `DOCKER_HOST` spells it.
    pub host: String,
    /// The folder holding the data root, the exec root, the pid file and the log.
    root: PathBuf,
    /// The network namespace (`ip netns` name).
    namespace: String,
    /// The host end of the veth pair.
    host_veth: String,
    /// The comment tagging the host's iptables rules for this engine.
    rule_comment: String,
    /// `10.211.N.1`: the host's end of the veth pair, as the engine's namespace reaches it.
    host_address: String,
    /// `socat` forwarders of [`SecondEngine::forward_loopback_port`], stopped on drop.
    forwarders: Vec<Child>,
    /// `sleep` holding the mount namespace that hides `/tmp`, so restarts share it.
    mount_holder: Option<Child>,
    /// The running dockerd.
    daemon: Option<Child>,
}

impl SecondEngine {
    /// Starts a second engine, or `None` (and a loud line) where it cannot run; under `CI=true` it must run.
    pub fn start_or_skip(test: &str) -> Option<SecondEngine> {
        let missing = ["dockerd", "ip", "iptables", "unshare", "nsenter"]
            .into_iter()
            .find(|tool| !on_path(tool));
        let reason = match missing {
            Some(tool) => Some(format!("`{tool}` is not installed")),
            None if !is_root() => Some("a second dockerd needs root".to_owned()),
            None => None,
        };
        if let Some(reason) = reason {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("{test}: CI=true but a second engine cannot start: {reason}");
            }
            eprintln!("SKIPPED {test}: {reason}; this test runs in CI (`bash .ci/run`)");
            return None;
        }
        Some(SecondEngine::start())
    }

    fn start() -> SecondEngine {
        let id = format!(
            "{}{}",
            std::process::id() % 10_000,
            NEXT_ID.fetch_add(1, Ordering::SeqCst)
        );
        // Interface names have at most 15 characters: "dykh" + at most 10.
        let octet = 16 + (std::process::id() % 200 + NEXT_ID.load(Ordering::SeqCst)) % 230;
        let root = PathBuf::from(format!("/var/tmp/dockyard-engine-{id}"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let mut engine = SecondEngine {
            host: format!("tcp://10.211.{octet}.2:2375"),
            root,
            namespace: format!("dockyard-engine-{id}"),
            host_veth: format!("dykh{id}"),
            rule_comment: format!("dockyard-second-engine-{id}"),
            host_address: format!("10.211.{octet}.1"),
            forwarders: Vec::new(),
            mount_holder: None,
            daemon: None,
        };
        // From here on, a panic drops `engine`, which undoes whatever was set up.
        let engine_veth = format!("dyke{id}");
        let ns = engine.namespace.clone();
        let host_veth = engine.host_veth.clone();
        let subnet = format!("10.211.{octet}.0/30");
        run("ip", &["netns", "add", &ns]);
        run(
            "ip",
            &[
                "link",
                "add",
                &host_veth,
                "type",
                "veth",
                "peer",
                "name",
                &engine_veth,
            ],
        );
        run("ip", &["link", "set", &engine_veth, "netns", &ns]);
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("10.211.{octet}.1/30"),
                "dev",
                &host_veth,
            ],
        );
        run("ip", &["link", "set", &host_veth, "up"]);
        run(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.211.{octet}.2/30"),
                "dev",
                &engine_veth,
            ],
        );
        run("ip", &["-n", &ns, "link", "set", &engine_veth, "up"]);
        run("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        run(
            "ip",
            &[
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                &format!("10.211.{octet}.1"),
            ],
        );
        let comment = engine.rule_comment.clone();
        run(
            "iptables",
            &[
                "-t",
                "nat",
                "-A",
                "POSTROUTING",
                "-s",
                &subnet,
                "!",
                "-o",
                &host_veth,
                "-m",
                "comment",
                "--comment",
                &comment,
                "-j",
                "MASQUERADE",
            ],
        );
        run(
            "iptables",
            &[
                "-I",
                "FORWARD",
                "1",
                "-i",
                &host_veth,
                "-m",
                "comment",
                "--comment",
                &comment,
                "-j",
                "ACCEPT",
            ],
        );
        run(
            "iptables",
            &[
                "-I",
                "FORWARD",
                "1",
                "-o",
                &host_veth,
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED",
                "-m",
                "comment",
                "--comment",
                &comment,
                "-j",
                "ACCEPT",
            ],
        );
        let holder = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                "mount -t tmpfs -o size=16m dockyard-hidden-tmp /tmp && exec sleep 86400",
            ])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let holder_pid = holder.id();
        engine.mount_holder = Some(holder);
        wait_for(
            Duration::from_secs(10),
            "the mount namespace hiding /tmp",
            || {
                std::fs::read_to_string(format!("/proc/{holder_pid}/mountinfo"))
                    .is_ok_and(|mounts| mounts.contains("dockyard-hidden-tmp"))
            },
        );
        engine.start_daemon();
        engine
    }

    /// Makes the host's `127.0.0.1:PORT` (a local registry) answer at `127.0.0.1:PORT` inside the engine's network
    /// namespace too, as one registry name reaches both engines of a real setup: `socat` in the namespace forwards
    /// to the host's end of the veth pair, where another `socat` forwards to the host's loopback. Loopback
    /// registries are spoken to in plain HTTP by both engines, so neither needs `--insecure-registry`.
    pub fn forward_loopback_port(&mut self, port: u16) {
        let inner = Command::new("ip")
            .args(["netns", "exec", &self.namespace, "socat"])
            .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"))
            .arg(format!("TCP:{}:{port}", self.host_address))
            .stdin(Stdio::null())
            .spawn()
            .expect("socat (apt-get install socat; .ci/run installs it)");
        self.forwarders.push(inner);
        let outer = Command::new("socat")
            .arg(format!(
                "TCP-LISTEN:{port},bind={},fork,reuseaddr",
                self.host_address
            ))
            .arg(format!("TCP:127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .spawn()
            .expect("socat");
        self.forwarders.push(outer);
        let namespace = self.namespace.clone();
        wait_for(Duration::from_secs(10), "the forwarders to listen", || {
            let inside = Command::new("ip")
                .args(["netns", "exec", &namespace, "ss", "-Hltn"])
                .output()
                .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
                .unwrap_or_default();
            inside.contains(&format!("127.0.0.1:{port}"))
                && std::net::TcpStream::connect((self.host_address.as_str(), port)).is_ok()
        });
    }

    /// The engine's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.root.join("dockerd.log")).unwrap_or_default();
        crate::support::tail(&log, 30)
    }

    /// Starts dockerd (again) in the engine's namespaces and waits until it answers.
    pub fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "dockerd is already running");
        let holder_pid = self.mount_holder.as_ref().unwrap().id();
        let listen = self.host.clone();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("dockerd.log"))
            .unwrap();
        // nsenter execs dockerd in place (no fork for mount and network namespaces): the child is dockerd itself.
        let daemon = Command::new("nsenter")
            .arg(format!("--mount=/proc/{holder_pid}/ns/mnt"))
            .arg(format!("--net=/run/netns/{}", self.namespace))
            .arg("--")
            .arg("dockerd")
            .arg("--data-root")
            .arg(self.root.join("data"))
            .arg("--exec-root")
            .arg(self.root.join("exec"))
            .arg("--pidfile")
            .arg(self.root.join("dockerd.pid"))
            .args(["-H", &listen])
            // Explicitly plain TCP: without it dockerd 20.10 waits 15 s to show its warning about it.
            .arg("--tls=false")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(daemon);
        let started = Instant::now();
        loop {
            if runtime().block_on(Engine::connect_to(&self.host)).is_ok() {
                break;
            }
            if let Some(status) = self.daemon.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the second dockerd exited with {status} before answering:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the second dockerd did not answer within 90 s:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!(
            "second engine at {} answered after {:.1}s",
            self.host,
            started.elapsed().as_secs_f64()
        );
    }

    /// Kills dockerd and its containerd with SIGKILL, as a crash or a hard restart of the engine would.
    pub fn kill_daemon(&mut self) {
        let containerd = self.containerd_pid();
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        if let Some(pid) = containerd {
            signal(pid, "KILL");
            wait_for(Duration::from_secs(10), "containerd to exit", || {
                !Path::new(&format!("/proc/{pid}")).exists()
            });
        }
    }

    /// An engine client for it.
    pub fn connect(&self) -> Engine {
        runtime()
            .block_on(Engine::connect_to(&self.host))
            .unwrap_or_else(|error| panic!("{error}\n{}", self.log_tail()))
    }

    /// containerd's pid, when the pid file names a live process of this engine.
    fn containerd_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.root.join("exec/containerd/containerd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        belongs_to(pid, &self.root).then_some(pid)
    }

    /// Processes started from this engine's folders (containerd shims), found by their command line.
    fn processes_of_this_engine(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid != std::process::id() && belongs_to(*pid, &self.root))
            .collect()
    }

    fn stop_daemon_gracefully(&mut self) {
        let Some(mut daemon) = self.daemon.take() else {
            return;
        };
        signal(daemon.id(), "TERM");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if daemon.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        for mut forwarder in self.forwarders.drain(..) {
            let _ = forwarder.kill();
            let _ = forwarder.wait();
        }
        self.stop_daemon_gracefully();
        if let Some(pid) = self.containerd_pid() {
            signal(pid, "TERM");
            std::thread::sleep(Duration::from_secs(2));
        }
        for pid in self.processes_of_this_engine() {
            signal(pid, "KILL");
        }
        if let Some(mut holder) = self.mount_holder.take() {
            let _ = holder.kill();
            let _ = holder.wait();
        }
        for (table, chain) in [("nat", "POSTROUTING"), ("filter", "FORWARD")] {
            let listing = Command::new("iptables")
                .args(["-t", table, "-S", chain])
                .output()
                .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
                .unwrap_or_default();
            for rule in listing
                .lines()
                .filter(|rule| rule.contains(&self.rule_comment))
            {
                let mut args = vec!["-t", table, "-D"];
                args.extend(rule.split_whitespace().skip(1));
                let _ = Command::new("iptables").args(&args).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_veth])
            .stderr(Stdio::null())
            .status();
        if let Err(error) = std::fs::remove_dir_all(&self.root) {
            eprintln!("warning: could not remove {}: {error}", self.root.display());
        }
    }
}

/// True when `pid`'s command line names a path under `root` (so it is this engine's process, not a reused pid).
fn belongs_to(pid: u32, root: &Path) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
        String::from_utf8_lossy(&cmdline).contains(root.to_string_lossy().as_ref())
    })
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status();
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find(|line| line.starts_with("Uid:"))
            .and_then(|line| line.split_whitespace().nth(1))
            == Some("0")
    })
}

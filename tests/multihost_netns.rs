//! Shards across a real network: three Linux network namespaces as the project's own hosts,
//! joined by veth pairs on a bridge. `ragperf mock` serves on one; two shards started with one
//! `--start-at` load it from the other two over the network; `ragperf merge` joins them.
//!
//! Checked: the merged counts are the sum of the shards'; the merged percentiles are the
//! percentiles of the union of the shards' histograms (exactly: the same HDR buckets, so within
//! HDR precision); against a single-host run of the same total load the percentiles agree
//! within a generous bound (a noisy shared machine); a shard killed before it writes is
//! reported by `merge` as missing, never silently absent.
//!
//! Needs root and `ip` (iproute2): where namespaces cannot be made it prints why and skips.
//! The namespaces are named after this process and deleted by a guard even when a check fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

mod shard_support;
use shard_support::{read, start_at, text, union_percentiles};

const MOCK_IP: &str = "10.203.0.1";
const TIME_SCALE: &str = "0.02";
/// Closed-loop users of the whole load (split 3 + 3 over the two shards).
const USERS: &str = "6";

/// Namespaces and processes of one test, removed on drop (also when an assertion fails).
struct Hosts {
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Hosts {
    fn ns(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    /// `ip ARGS`, returning stderr on failure.
    fn ip(args: &[&str]) -> Result<(), String> {
        let o = Command::new("ip")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run `ip`: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`ip {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
    }

    /// Mock host `m` with a bridge, generator hosts `a` and `b`, each joined to the bridge by
    /// a veth pair. Err = namespaces cannot be made here (the caller skips).
    fn create() -> Result<Hosts, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root (network namespaces need CAP_SYS_ADMIN)".into());
        }
        let mut hosts = Hosts {
            prefix: format!("rpf{}", std::process::id()),
            namespaces: Vec::new(),
            children: Vec::new(),
        };
        for role in ["m", "a", "b"] {
            let ns = hosts.ns(role);
            Hosts::ip(&["netns", "add", &ns])?;
            hosts.namespaces.push(ns.clone());
            Hosts::ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        let m = hosts.ns("m");
        Hosts::ip(&["-n", &m, "link", "add", "br0", "type", "bridge"])?;
        Hosts::ip(&[
            "-n",
            &m,
            "addr",
            "add",
            &format!("{MOCK_IP}/24"),
            "dev",
            "br0",
        ])?;
        Hosts::ip(&["-n", &m, "link", "set", "br0", "up"])?;
        for (i, role) in ["a", "b"].iter().enumerate() {
            let ns = hosts.ns(role);
            let (host_end, gen_end) = (format!("to-{role}"), "eth0".to_string());
            Hosts::ip(&[
                "-n", &m, "link", "add", &host_end, "type", "veth", "peer", "name", &gen_end,
                "netns", &ns,
            ])?;
            Hosts::ip(&["-n", &m, "link", "set", &host_end, "master", "br0"])?;
            Hosts::ip(&["-n", &m, "link", "set", &host_end, "up"])?;
            let addr = format!("10.203.0.{}/24", 11 + i);
            Hosts::ip(&["-n", &ns, "addr", "add", &addr, "dev", &gen_end])?;
            Hosts::ip(&["-n", &ns, "link", "set", &gen_end, "up"])?;
        }
        Ok(hosts)
    }

    /// `ragperf ARGS` inside host `role`.
    fn ragperf(&self, role: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(role)])
            .arg(assert_cmd::cargo::cargo_bin("ragperf"))
            .env_remove("RAGPERF_SHARDS")
            .env_remove("JOB_COMPLETION_INDEX");
        c
    }

    /// Starts the mocks on host `m` and waits until they listen.
    fn start_mock(&mut self) {
        let mut child = self
            .ragperf("m")
            .args(["mock", "--time-scale", TIME_SCALE, "--threads", "2"])
            .args(["--qdrant", &format!("{MOCK_IP}:6333")])
            .args(["--bedrock", &format!("{MOCK_IP}:8000")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ragperf mock");
        let stdout = child.stdout.take().expect("mock stdout");
        self.children.push(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("ragperf mock printed its URLs");
            if line.starts_with("bedrock") {
                return;
            }
        }
    }

    /// A run on host `role` against the mocks over the network.
    fn run(&self, role: &str, extra: &[&str], out: &Path) -> Command {
        let mut c = self.ragperf(role);
        c.args([
            "run", "-v", "async", "-c", USERS, "-d", "2s", "--warmup", "500ms",
        ])
        .args(["--time-scale", TIME_SCALE, "--no-progress"])
        .args(["--qdrant-url", &format!("http://{MOCK_IP}:6333")])
        .args(["--bedrock-url", &format!("http://{MOCK_IP}:8000")])
        .args(extra)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        c
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            let _ = Hosts::ip(&["netns", "del", ns]);
        }
    }
}

/// `ragperf merge` (no network needed: on the test's own host).
fn merge(shards: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("ragperf"))
        .arg("merge")
        .arg(shards)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("merge")
}

fn ms(v: &Value, hist: &str, stat: &str) -> f64 {
    v["runs"][0]["latency_ms"][hist][stat]
        .as_f64()
        .unwrap_or(f64::NAN)
}

#[test]
fn shards_on_two_hosts_merge_like_one_host() {
    let mut hosts = match Hosts::create() {
        Ok(h) => h,
        Err(why) => {
            println!("SKIPPED multihost_netns: network namespaces cannot be made here: {why}");
            eprintln!("SKIPPED multihost_netns: network namespaces cannot be made here: {why}");
            return;
        }
    };
    hosts.start_mock();
    let dir = tempfile::tempdir().expect("tempdir");

    // Two shards on hosts a and b, one instant.
    let shards = dir.path().join("shards");
    let at = start_at(Duration::from_secs(4));
    let runs: Vec<Child> = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, role)| {
            let shard = format!("{i}/2");
            hosts
                .run(
                    role,
                    &["--shard", &shard, "--start-at", &at],
                    &shards.join(format!("shard-{i}")),
                )
                .spawn()
                .expect("spawn a shard")
        })
        .collect();
    for r in runs {
        let o = r.wait_with_output().expect("shard ran");
        assert!(o.status.success(), "{}", text(&o));
    }
    let files: Vec<PathBuf> = (0..2)
        .map(|i| shards.join(format!("shard-{i}/result.json")))
        .collect();
    let parts: Vec<Value> = files.iter().map(|f| read(f)).collect();
    for p in &parts {
        assert_eq!(p["backends"]["mode"], "external", "loaded over the network");
        assert!(p["runs"][0]["counters"]["ok"].as_u64().unwrap_or(0) > 0);
    }
    let merged_dir = dir.path().join("merged");
    let o = merge(&shards, &merged_dir, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let merged = read(&merged_dir.join("result.json"));
    let run = &merged["runs"][0];

    // Counts: the sum of the shards.
    for counter in ["sent", "ok", "failed", "abandoned", "tokens"] {
        let sum: u64 = parts
            .iter()
            .map(|p| p["runs"][0]["counters"][counter].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(run["counters"][counter], sum, "{counter}");
    }
    // Percentiles: those of the union of the shards' histograms.
    for name in ["e2e", "ttft", "itl"] {
        let expected = serde_json::to_value(union_percentiles(&parts, name)).expect("json");
        assert_eq!(run["latency_ms"][name], expected, "{name}");
    }

    // One host with the whole load: the same latencies within a generous bound.
    let single_dir = dir.path().join("single");
    let o = hosts
        .run("a", &[], &single_dir)
        .output()
        .expect("single-host run");
    assert!(o.status.success(), "{}", text(&o));
    let single = read(&single_dir.join("result.json"));
    for (hist, stat, factor) in [
        ("e2e", "p50", 2.0),
        ("e2e", "p90", 3.0),
        ("ttft", "p50", 3.0),
    ] {
        let (m, s) = (ms(&merged, hist, stat), ms(&single, hist, stat));
        assert!(
            m > s / factor && m < s * factor,
            "{hist} {stat}: merged {m} ms vs one host {s} ms (bound x{factor})"
        );
    }
    let rate = |v: &Value| {
        v["runs"][0]["throughput"]["requests_per_s"]
            .as_f64()
            .unwrap_or(0.0)
    };
    assert!(
        rate(&merged) > rate(&single) * 0.5 && rate(&merged) < rate(&single) * 2.0,
        "req/s: merged {} vs one host {}",
        rate(&merged),
        rate(&single)
    );

    // A shard killed before it writes is reported missing, not silently absent.
    let killed = dir.path().join("killed");
    let at = start_at(Duration::from_secs(4));
    let survivor = hosts
        .run(
            "a",
            &["--shard", "0/2", "--start-at", &at],
            &killed.join("shard-0"),
        )
        .spawn()
        .expect("spawn shard 0");
    let mut victim = hosts
        .run(
            "b",
            &["--shard", "1/2", "--start-at", &at],
            &killed.join("shard-1"),
        )
        .spawn()
        .expect("spawn shard 1");
    std::thread::sleep(Duration::from_millis(1500));
    victim.kill().expect("kill shard 1");
    let _ = victim.wait();
    let o = survivor.wait_with_output().expect("shard 0 ran");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !killed.join("shard-1/result.json").exists(),
        "killed before it wrote"
    );
    let o = merge(&killed, &dir.path().join("merged-killed"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("shard(s) 1 of 2 missing"), "{}", text(&o));
    let o = merge(
        &killed,
        &dir.path().join("merged-killed"),
        &["--allow-missing"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("MISSING shard(s) 1"), "{}", text(&o));
    let partial = read(&dir.path().join("merged-killed/result.json"));
    assert_eq!(partial["merged"]["missing"], serde_json::json!([1]));
}

//! Tests of [`ServerSampler`] against real child processes (python3 and sh), each in a process
//! group of its own that is killed when the test ends.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::sleep;

use super::*;

/// A child in its own process group; the whole group is killed on drop.
struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Spawned {
    fn new(command: &mut Command) -> Spawned {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn test child");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        Spawned {
            child,
            stdin,
            stdout,
        }
    }

    fn python(code: &str) -> Spawned {
        Spawned::new(Command::new("python3").arg("-c").arg(code))
    }

    /// `sh -c script` with `$BURN` set to a python3 program.
    fn sh(script: &str, burn: &str) -> Spawned {
        Spawned::new(Command::new("sh").arg("-c").arg(script).env("BURN", burn))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Blocks until the child prints `line`.
    fn wait_for(&mut self, line: &str) {
        let mut got = String::new();
        loop {
            got.clear();
            let n = self.stdout.read_line(&mut got).expect("read child stdout");
            assert!(n > 0, "child exited before printing {line:?}");
            if got.trim_end() == line {
                return;
            }
        }
    }

    fn go(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        stdin.write_all(b"go\n").expect("write child stdin");
        stdin.flush().expect("flush child stdin");
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // SAFETY: kill has no memory effects; the group is the child's own.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Burns `secs` of CPU (nearly all user time: the clock is read once per 20,000 loops) once a line arrives on stdin (after printing `ready`), then sleeps 200
/// times for 1 ms (200 voluntary context switches), prints `done` and sleeps.
fn burner(secs: f64) -> String {
    format!(
        "import sys, time\n\
         print('ready', flush=True)\n\
         sys.stdin.readline()\n\
         t = time.process_time()\n\
         while time.process_time() - t < {secs}:\n    for _ in range(20000): pass\n\
         for _ in range(200): time.sleep(0.001)\n\
         print('done', flush=True)\n\
         time.sleep(60)\n"
    )
}

fn total_cpu(f: &ServerFigures) -> f64 {
    f.cpu_user_s + f.cpu_sys_s
}

#[test]
fn threads_and_memory_of_a_python_process() -> Result<(), ServerSampleError> {
    let mut server = Spawned::python(
        "import threading, time\n\
         for _ in range(8): threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n\
         print('ready', flush=True)\n\
         time.sleep(60)\n",
    );
    server.wait_for("ready");
    let sampler = ServerSampler::start(server.pid(), Duration::from_millis(50))?;
    sleep(Duration::from_millis(300));
    assert!(!sampler.exited());
    let f = sampler.stop();
    assert_eq!(f.pid, server.pid());
    // python3 may be a shim that execs the real interpreter, named by its full path.
    let program = "python3 -c import threading, time for _ in range(8):";
    assert!(f.command.contains(program), "{}", f.command);
    assert!(f.command.ends_with("time.sleep(60)"), "{}", f.command);
    assert!(f.threads_start >= 9 && f.threads_peak >= 9, "{f:?}");
    assert!(f.threads_mean >= 9.0 && f.threads_mean <= f.threads_peak as f64);
    assert_eq!(f.processes_peak, 1);
    assert!(f.rss_start_bytes > 1 << 20 && f.rss_peak_bytes >= f.rss_start_bytes);
    assert!(!f.exited);
    assert!(f.snapshots >= 3, "{} snapshots", f.snapshots);
    assert_eq!(f.samples.len() as u64, f.snapshots);
    assert!(f.samples.windows(2).all(|w| w[0].t_s < w[1].t_s));
    assert!(f.window_s >= 0.25 && f.window_s < 5.0);
    assert_eq!(f.failed_reads, 0);
    Ok(())
}

#[test]
fn cpu_and_context_switches_of_a_busy_process() -> Result<(), ServerSampleError> {
    let mut server = Spawned::python(&burner(0.4));
    server.wait_for("ready");
    let sampler = ServerSampler::start(server.pid(), Duration::from_millis(20))?;
    server.go();
    server.wait_for("done");
    let f = sampler.stop();
    assert!(f.cpu_user_s >= 0.25 && total_cpu(&f) >= 0.35, "{f:?}");
    assert!(total_cpu(&f) <= 3.0, "{f:?}");
    assert!(f.ctx_switches_voluntary >= 100, "{f:?}");
    let last = f.samples.last().map_or(0.0, |s| s.cpu_s);
    assert!((last - total_cpu(&f)).abs() < 1e-9);
    assert!(f.sampler_cpu_s < 1.0, "sampler used {} s", f.sampler_cpu_s);
    Ok(())
}

#[test]
fn busiest_thread_is_told_from_the_others() -> Result<(), ServerSampleError> {
    // The main thread burns 0.45 s of its own CPU while a helper thread burns 0.15 s.
    let mut server = Spawned::python(
        "import sys, threading, time\n\
         def burn(secs):\n    t = time.thread_time()\n    while time.thread_time() - t < secs:\n        for _ in range(20000): pass\n\
         print('ready', flush=True)\n\
         sys.stdin.readline()\n\
         h = threading.Thread(target=burn, args=(0.15,))\n\
         h.start()\n\
         burn(0.45)\n\
         h.join()\n\
         print('done', flush=True)\n\
         time.sleep(60)\n",
    );
    server.wait_for("ready");
    let sampler = ServerSampler::start(server.pid(), Duration::from_millis(50))?;
    server.go();
    server.wait_for("done");
    let f = sampler.stop();
    let busiest = f.cpu_busiest_thread_s.unwrap_or(-1.0);
    assert!((0.35..1.2).contains(&busiest), "busiest {busiest}: {f:?}");
    // The helper exited before the stop: its CPU is in the process's total, not in any
    // thread read at the stop, so the others' share is the total minus the busiest.
    let others = total_cpu(&f) - busiest;
    assert!((0.08..0.6).contains(&others), "others {others}: {f:?}");
    Ok(())
}

#[test]
fn child_reaped_in_the_window_is_counted_once() -> Result<(), ServerSampleError> {
    // The shell waits for python3, whose CPU moves into the shell's cutime; sampled every 20 ms
    // during the burn, it must not be counted both directly and through the shell.
    let mut server = Spawned::sh(
        "echo ready; read x; python3 -c \"$BURN\" </dev/null >/dev/null; echo done; sleep 60",
        &burner(0.5)
            .replace("sys.stdin.readline()\n", "")
            .replace("time.sleep(60)\n", ""),
    );
    server.wait_for("ready");
    let sampler = ServerSampler::start(server.pid(), Duration::from_millis(20))?;
    server.go();
    server.wait_for("done");
    let f = sampler.stop();
    assert!(f.processes_peak >= 2, "{f:?}");
    let cpu = total_cpu(&f);
    assert!(
        (0.35..0.95).contains(&cpu),
        "cpu {cpu} s for a 0.5 s burn: {f:?}"
    );
    Ok(())
}

#[test]
fn child_born_between_snapshots_counts_all_its_cpu() -> Result<(), ServerSampleError> {
    // Sampling every 60 s: python3 is first seen at stop, after its burn, and counts from zero
    // because it started during the window.
    let mut server = Spawned::sh(
        "echo ready; read x; exec python3 -c \"$BURN\" </dev/null & wait",
        &burner(0.4).replace("sys.stdin.readline()\n", ""),
    );
    server.wait_for("ready");
    let sampler = ServerSampler::start(server.pid(), Duration::from_secs(60))?;
    server.go();
    server.wait_for("done");
    let f = sampler.stop();
    assert_eq!(f.snapshots, 2);
    assert_eq!(f.processes_peak, 2, "{f:?}");
    assert!(total_cpu(&f) >= 0.3, "{f:?}");
    // Born in the window: all its context switches count.
    assert!(f.ctx_switches_voluntary >= 100, "{f:?}");
    Ok(())
}

#[test]
fn process_tree_is_summed() -> Result<(), ServerSampleError> {
    let mut server = Spawned::sh("sleep 5 & sleep 5 & echo ready; wait", "");
    server.wait_for("ready");
    let sampler = ServerSampler::start(server.pid(), Duration::from_millis(20))?;
    sleep(Duration::from_millis(200));
    let f = sampler.stop();
    assert!(f.processes_peak >= 3, "{f:?}");
    assert!(f.threads_peak >= 3, "{f:?}");
    assert!(
        f.samples.iter().all(|s| s.processes >= 3),
        "{:?}",
        f.samples
    );
    Ok(())
}

#[test]
fn server_that_dies_mid_window_is_reported() -> Result<(), ServerSampleError> {
    let mut server = Spawned::new(Command::new("sleep").arg("0.3"));
    let sampler = ServerSampler::start(server.pid(), Duration::from_millis(20))?;
    assert!(!sampler.exited());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sampler.exited() && Instant::now() < deadline {
        sleep(Duration::from_millis(20));
    }
    // Seen as a zombie first; now reaped, so /proc/PID disappears while sampling.
    assert!(sampler.exited());
    let _ = server.child.wait();
    sleep(Duration::from_millis(60));
    let f = sampler.stop();
    assert!(f.exited);
    assert_eq!(f.pid, server.pid());
    assert_eq!(f.samples.last().map(|s| s.processes), Some(0));
    assert!(f.snapshots >= 3);
    Ok(())
}

#[test]
fn missing_or_dead_pid_is_an_error_naming_it() {
    let mut gone = Spawned::new(&mut Command::new("true"));
    let _ = gone.child.wait();
    let err = ServerSampler::start(gone.pid(), Duration::from_millis(100)).map(|_| ());
    let message = err.map_err(|e| e.to_string()).expect_err("no such process");
    assert!(message.contains(&gone.pid().to_string()), "{message}");
    assert!(
        message.contains("is the server running? --target-pid"),
        "{message}"
    );

    let zombie = Spawned::new(&mut Command::new("true"));
    sleep(Duration::from_millis(300));
    let err = ServerSampler::start(zombie.pid(), Duration::from_millis(100)).map(|_| ());
    assert!(matches!(err, Err(ServerSampleError::Exited { pid }) if pid == zombie.pid()));
}

#[test]
fn thinning_keeps_ends_and_spacing() {
    let points: Vec<u32> = (0..10_000).collect();
    let thin = thin_evenly(&points, MAX_SERVER_SAMPLES);
    assert_eq!(thin.len(), MAX_SERVER_SAMPLES);
    assert_eq!((thin.first(), thin.last()), (Some(&0), Some(&9_999)));
    let gaps: Vec<u32> = thin.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|&g| g == 16 || g == 17), "{gaps:?}");
    assert_eq!(thin_evenly(&points[..5], 600), points[..5].to_vec());
}

#[test]
fn cpu_between_two_instants_is_read_off_the_samples() {
    let at = |t_s: f64, cpu_s: f64| ServerSample {
        t_s,
        cpu_s,
        ..ServerSample::default()
    };
    let f = ServerFigures {
        samples: vec![at(0.0, 0.0), at(1.0, 1.0), at(2.0, 3.0), at(4.0, 3.5)],
        ..ServerFigures::default()
    };
    let close = |got: Option<f64>, want: f64| got.is_some_and(|g| (g - want).abs() < 1e-9);
    // Between samples: linear in each interval (0.5 at 0.5 s, 2.0 at 1.5 s).
    assert!(close(f.cpu_between_s(0.5, 1.5), 1.5));
    // On samples, across several intervals, and an empty span.
    assert!(close(f.cpu_between_s(1.0, 4.0), 2.5));
    assert!(close(f.cpu_between_s(0.0, 3.0), 3.25));
    assert!(close(f.cpu_between_s(2.0, 2.0), 0.0));
    // Outside the samples, backwards, or not a number: nothing to read.
    assert_eq!(f.cpu_between_s(-0.1, 1.0), None);
    assert_eq!(f.cpu_between_s(1.0, 4.1), None);
    assert_eq!(f.cpu_between_s(2.0, 1.0), None);
    assert_eq!(f.cpu_between_s(f64::NAN, 1.0), None);
    assert_eq!(ServerFigures::default().cpu_between_s(0.0, 0.0), None);
}

#[test]
fn the_machine_speed_of_a_span_is_the_mean_of_its_readings() {
    let at = |t_s: f64, speed: Option<f64>| ServerSample {
        t_s,
        speed,
        ..ServerSample::default()
    };
    let f = ServerFigures {
        samples: vec![
            at(0.0, Some(10.0)),
            at(1.0, Some(2.0)),
            at(2.0, None),
            at(3.0, Some(4.0)),
            at(4.0, Some(f64::NAN)),
            at(5.0, Some(6.0)),
            at(6.0, Some(100.0)),
        ],
        ..ServerFigures::default()
    };
    // Only the readings inside the span, missing and broken ones left out.
    assert_eq!(f.speed_between(0.5, 5.5), Some(4.0));
    // Fewer than three readings: too few to stand for a window.
    assert_eq!(f.speed_between(0.5, 3.5), None);
    assert_eq!(ServerFigures::default().speed_between(0.0, 9.0), None);
}

#[test]
fn a_live_sampler_records_the_machine_speed() {
    let sampler = ServerSampler::start(std::process::id(), Duration::from_millis(10))
        .expect("this process can be sampled");
    sleep(Duration::from_millis(80));
    let f = sampler.stop();
    let readings = f
        .samples
        .iter()
        .filter(|x| x.speed.is_some_and(|v| v > 0.0))
        .count();
    assert!(
        readings >= 3,
        "{readings} of {} samples carry a speed",
        f.samples.len()
    );
}

#[test]
fn the_system_share_is_the_kernels_part_of_the_cpu() {
    let f = ServerFigures {
        cpu_user_s: 3.0,
        cpu_sys_s: 1.0,
        ..ServerFigures::default()
    };
    assert_eq!(f.system_share(), Some(0.25));
    // No CPU: no share, not 0.
    assert_eq!(ServerFigures::default().system_share(), None);
}

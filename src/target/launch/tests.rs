//! Tests of [`ManagedServer`] with real commands on loopback ports only.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;

use super::*;

/// A loopback port nobody listens on (bound, read and released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// A loopback HTTP responder that answers every request with `status`; returns its port.
fn responder(status: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || serve(&listener, status));
    port
}

/// Like [`responder`], but listening only once the file `marker` exists (the test's command
/// creates it), as a server does once it has started.
fn responder_once(marker: &Path, status: u16) -> u16 {
    let port = free_port();
    let marker = marker.to_path_buf();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !marker.exists() && Instant::now() < deadline {
            sleep(Duration::from_millis(10));
        }
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            serve(&listener, status);
        }
    });
    port
}

fn serve(listener: &TcpListener, status: u16) {
    for mut stream in listener.incoming().flatten() {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
}

/// Whether a process is alive (zombies are not: their parent or init has yet to reap them).
fn alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat_fields(&stat).and_then(|mut f| f.next().map(|s| s != b"Z")))
        .unwrap_or(false)
}

/// Waits up to 3 s for a process to be gone.
fn ends(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < deadline {
        sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// The pids a test command wrote into `file` (waiting up to 3 s for it).
fn pids_in(file: &Path) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.ends_with('\n') || Instant::now() >= deadline {
            return text
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
        }
        sleep(Duration::from_millis(20));
    }
}

fn start(
    cmd: &str,
    url: &str,
    timeout: Duration,
    dir: &Path,
) -> Result<ManagedServer, LaunchError> {
    ManagedServer::start(
        cmd,
        &[],
        url,
        timeout,
        &dir.join("server.log"),
        &AtomicBool::new(false),
    )
}

#[test]
fn ready_server_runs_until_stop_ends_its_whole_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let pid_file = dir.path().join("child.pid");
    let cmd = format!(
        "sleep 300 & echo $! > {}; exec python3 -m http.server {port} --bind 127.0.0.1 --directory {}",
        pid_file.display(),
        dir.path().display()
    );
    let url = format!("http://127.0.0.1:{port}/");
    let mut server = start(&cmd, &url, Duration::from_secs(30), dir.path()).expect("ready");
    let forked = pids_in(&pid_file);
    assert_eq!(forked.len(), 1);
    assert!(alive(server.pid()) && alive(forked[0]));
    assert_eq!(server.exit_status(), None);
    // http.server logs each request to stderr, which goes to the log: the readiness GET.
    let tail = server.log_tail(LOG_TAIL_LINES);
    assert!(tail.contains("\"GET / HTTP/1.1\" 200"), "log: {tail}");

    let report = server.stop(Duration::from_secs(10));
    assert_eq!(report.outcome, StopOutcome::Terminated);
    assert_eq!(report.status.and_then(|s| s.signal()), Some(libc::SIGTERM));
    assert!(!report.group_survived);
    assert!(
        ends(server.pid()) && ends(forked[0]),
        "the group outlived stop()"
    );
    assert_eq!(server.stop(Duration::ZERO), report, "stop is idempotent");
    assert_eq!(server.exit_status(), report.status);
}

#[test]
fn command_that_exits_is_reported_with_its_status_and_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://127.0.0.1:{}/health", free_port());
    let cmd = "echo first-line; echo boom-marker >&2; exit 3";
    let err = start(cmd, &url, Duration::from_secs(30), dir.path()).map(|_| ());
    match err {
        Err(LaunchError::ExitedBeforeReady {
            status, log_tail, ..
        }) => {
            assert_eq!(status.code(), Some(3));
            assert_eq!(log_tail, "first-line\nboom-marker");
        }
        other => panic!("expected ExitedBeforeReady, got {other:?}"),
    }
    let message = start(cmd, &url, Duration::from_secs(30), dir.path())
        .map(|_| ())
        .map_err(|e| e.to_string())
        .expect_err("exits");
    assert!(
        message.contains("--target-cmd exited (exit status: 3)"),
        "{message}"
    );
    assert!(
        message.contains("--target-ready") && message.ends_with("boom-marker"),
        "{message}"
    );
}

#[test]
fn server_that_never_becomes_ready_times_out_and_is_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("started");
    let url = format!("http://127.0.0.1:{}/", responder_once(&marker, 503));
    let pid_file = dir.path().join("server.pid");
    let cmd = format!(
        "echo $$ > {}; touch {}; exec sleep 300",
        pid_file.display(),
        marker.display()
    );
    let began = Instant::now();
    let err = start(&cmd, &url, Duration::from_millis(1500), dir.path()).map(|_| ());
    let took = began.elapsed();
    let message = err.map_err(|e| e.to_string()).expect_err("not ready");
    assert!(
        message.contains("did not answer with a status below 500"),
        "{message}"
    );
    assert!(message.contains("last try: HTTP 503"), "{message}");
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(10));
    let pids = pids_in(&pid_file);
    assert_eq!(pids.len(), 1);
    assert!(ends(pids[0]), "the server outlived the timeout");
}

#[test]
fn drop_ends_the_server_and_what_it_forked() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Any status below 500 means ready, 404 included.
    let marker = dir.path().join("started");
    let url = format!("http://127.0.0.1:{}/", responder_once(&marker, 404));
    let pid_file = dir.path().join("pids");
    let cmd = format!(
        "sleep 301 & echo $$ $! > {}; touch {}; exec sleep 300",
        pid_file.display(),
        marker.display()
    );
    let server = start(&cmd, &url, Duration::from_secs(30), dir.path()).expect("ready");
    let pids = pids_in(&pid_file);
    assert_eq!(pids.len(), 2);
    assert_eq!(pids[0], server.pid());
    assert!(pids.iter().all(|&p| alive(p)));
    drop(server);
    assert!(pids.iter().all(|&p| ends(p)), "drop left {pids:?} running");
}

#[test]
fn server_ignoring_sigterm_is_killed_after_the_grace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("started");
    let url = format!("http://127.0.0.1:{}/", responder_once(&marker, 200));
    let cmd = format!("trap '' TERM; touch {}; exec sleep 300", marker.display());
    let mut server = start(&cmd, &url, Duration::from_secs(30), dir.path()).expect("ready");
    let report = server.stop(Duration::from_millis(300));
    assert_eq!(report.outcome, StopOutcome::Killed);
    assert_eq!(report.status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    assert!(report.took >= Duration::from_millis(300));
    assert!(ends(server.pid()));
}

#[test]
fn ctrl_c_aborts_the_wait_and_stops_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://127.0.0.1:{}/", free_port());
    let pid_file = dir.path().join("server.pid");
    let cmd = format!("echo $$ > {}; exec sleep 300", pid_file.display());
    let flag = Arc::new(AtomicBool::new(false));
    let setter = Arc::clone(&flag);
    std::thread::spawn(move || {
        sleep(Duration::from_millis(400));
        setter.store(true, Ordering::SeqCst);
    });
    let began = Instant::now();
    let log = dir.path().join("server.log");
    let err =
        ManagedServer::start(&cmd, &[], &url, Duration::from_secs(60), &log, &flag).map(|_| ());
    assert!(
        matches!(err, Err(LaunchError::Interrupted { .. })),
        "{err:?}"
    );
    assert!(began.elapsed() < Duration::from_secs(10));
    let pids = pids_in(&pid_file);
    assert!(pids.len() == 1 && ends(pids[0]));
}

#[test]
fn bad_ready_url_or_busy_port_fails_before_spawning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    let cmd = format!("touch {}", marker.display());
    let busy = format!("http://127.0.0.1:{}/", responder(200));
    for url in [
        "https://127.0.0.1:1/",
        "127.0.0.1:8000",
        "http://",
        "http:///x",
        busy.as_str(),
    ] {
        let err = start(&cmd, url, Duration::from_secs(5), dir.path()).map(|_| ());
        let message = err.map_err(|e| e.to_string()).expect_err(url);
        assert!(message.contains("--target-ready"), "{url}: {message}");
    }
    let err = start(&cmd, &busy, Duration::from_secs(5), dir.path()).map(|_| ());
    assert!(matches!(
        err,
        Err(LaunchError::AlreadyAnswering { status: 200, .. })
    ));
    assert!(matches!(
        start("  ", &busy, Duration::from_secs(5), dir.path()).map(|_| ()),
        Err(LaunchError::EmptyCommand)
    ));
    sleep(Duration::from_millis(100));
    assert!(!marker.exists(), "the command ran");
}

#[test]
fn exec_is_prefixed_only_to_simple_commands() {
    assert_eq!(
        shell_line("uvicorn app:app --port 8000"),
        "exec uvicorn app:app --port 8000"
    );
    assert_eq!(
        shell_line("python3 -m http.server >log 2>&1"),
        "exec python3 -m http.server >log 2>&1"
    );
    for cmd in [
        "cd app && uvicorn main:app",
        "FOO=1 uvicorn main:app",
        "exec uvicorn main:app",
        "uvicorn a:b | tee log",
        "ulimit -n 4096; uvicorn a:b",
        "( uvicorn a:b )",
    ] {
        assert_eq!(shell_line(cmd), cmd);
    }
}

//! The bad-input corpus: flags, scenario files and result files that ragperf must refuse before
//! any load, with a message that names the flag or field and says how to fix it. The messages
//! are snapshot-tested (`tests/snapshots/cli_bad_input__*.snap`; review changes with
//! `cargo insta review`, or `INSTA_UPDATE=always` then `git diff`). Every case also asserts exit
//! code 2, no panic, and that the message names its flag or field. Temporary paths are shown as
//! `<tmp>`, so the snapshots are stable.

use std::path::Path;
use std::process::Command;

/// One bad input: its files (name, content), arguments (`<tmp>` = the case's directory), and
/// the flag or field its message must name.
struct Case {
    args: &'static str,
    files: &'static [(&'static str, &'static str)],
    names: &'static str,
}

const fn case(args: &'static str, names: &'static str) -> Case {
    Case {
        args,
        files: &[],
        names,
    }
}

const fn with_file(
    file: &'static [(&'static str, &'static str)],
    args: &'static str,
    names: &'static str,
) -> Case {
    Case {
        args,
        files: file,
        names,
    }
}

/// Runs every case and returns the transcript for the snapshot.
fn transcript(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, content) in c.files {
            std::fs::write(dir.path().join(name), content).expect("write case file");
        }
        let tmp = dir.path().display().to_string();
        let args: Vec<String> = c
            .args
            .split_whitespace()
            .map(|a| a.replace("<tmp>", &tmp))
            .collect();
        let output = Command::new(assert_cmd::cargo::cargo_bin("ragperf"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .expect("run ragperf");
        let stderr = String::from_utf8_lossy(&output.stderr).replace(&tmp, "<tmp>");
        let code = output.status.code();
        assert_eq!(
            code,
            Some(2),
            "`ragperf {}`: exit 2 expected\n{stderr}",
            c.args
        );
        assert!(
            !stderr.contains("panicked"),
            "`ragperf {}`:\n{stderr}",
            c.args
        );
        assert!(
            stderr.contains(c.names),
            "`ragperf {}` must name `{}`:\n{stderr}",
            c.args,
            c.names
        );
        assert!(
            !Path::new(&dir.path().join("reports")).exists(),
            "`ragperf {}` wrote a report",
            c.args
        );
        out.push_str(&format!("$ ragperf {}\n", c.args));
        for (name, content) in c.files {
            out.push_str(&format!("# {name}: {}\n", content.replace('\n', "\\n")));
        }
        out.push_str(&format!("exit {}\n", code.unwrap_or(-1)));
        out.push_str(stderr.trim_end());
        out.push_str("\n\n");
    }
    out
}

#[test]
fn flags() {
    let cases = [
        case("run -c -5", "--concurrency"),
        case("run --target http://127.0.0.1:9/chat --py-spy", "--py-spy"),
        case("run -c 0", "--concurrency"),
        case("run -c many", "--concurrency"),
        case("run --rate -5", "--rate"),
        case("run --rate 0", "--rate"),
        case("run --rate 10 -c 8", "--concurrency"),
        case("run --time-scale 1e308", "--time-scale"),
        case("run --time-scale 0", "--time-scale"),
        case("run --time-scale -1", "--time-scale"),
        case("run --time-scale NaN", "--time-scale"),
        case("run -d 100000000000h", "--duration"),
        case("run -d -5s", "--duration"),
        case("run -d ten", "--duration"),
        case("run --warmup 1fortnight", "--warmup"),
        case("run -n 0", "--requests"),
        case("run -n -3", "--requests"),
        case("run --repeat 0", "--repeat"),
        case("run --max-error-rate 1.5", "--max-error-rate"),
        case("run --max-error-rate -0.1", "--max-error-rate"),
        case("run --max-error-rate lots", "--max-error-rate"),
        case("run --max-in-flight 0 --rate 5", "--max-in-flight"),
        case("run --workers -1", "--workers"),
        case("run --mock-threads 0", "--mock-threads"),
        case("run --seed -1", "--seed"),
        case("run --cpu-work-us -5", "--cpu-work-us"),
        case("run --cpu-per-read-us -5", "--cpu-per-read-us"),
        case(
            "run --target http://127.0.0.1:9/chat --cpu-per-read-us 100",
            "--cpu-per-read-us",
        ),
        case("run --variant fast", "fast"),
        case(
            "run --qdrant-url 127.0.0.1:6333 --bedrock-url http://127.0.0.1:8000",
            "--qdrant-url",
        ),
        case(
            "run --qdrant-url http://127.0.0.1:99999 --bedrock-url http://127.0.0.1:8000",
            "--qdrant-url",
        ),
        case("run --slo latency=3s", "--slo"),
        case("run --arrivals bursty --rate 5", "--arrivals"),
        case("sweep", "--concurrency"),
        case("sweep -c 1,-8", "--concurrency"),
        case("sweep --rates 5,-1", "--rates"),
        with_file(
            &[("a-file", "")],
            "run -d 30s --out <tmp>/a-file/sub",
            "--out",
        ),
        case("mock --time-scale 0", "--time-scale"),
        case("mock --threads 0", "--threads"),
        case("baseline --repeat 0", "--repeat"),
        case("streams -c 0", "--streams"),
        case("streams -d 0s", "--duration"),
        case("streams --stream-timeout 0s", "--stream-timeout"),
        case("streams --max-gap-error-ms -1", "--max-gap-error-ms"),
        case("streams --model=", "--model"),
    ];
    insta::assert_snapshot!("flags", transcript(&cases));
}

#[test]
fn scenario_files() {
    let s = |content: &'static str| -> &'static [(&'static str, &'static str)] {
        Box::leak(Box::new([("s.toml", content)]))
    };
    let cases = [
        with_file(s("[load]\nconcurency = 8\n"), "run -s s.toml", "concurency"),
        with_file(
            s("[qdrant]\nsearch_ms = -5\n"),
            "run -s s.toml",
            "search_ms",
        ),
        with_file(s("time_scale = 0\n"), "run -s s.toml", "time_scale"),
        with_file(s("time_scale = 1e308\n"), "run -s s.toml", "time_scale"),
        with_file(
            s("[bedrock]\noutput_tokens = 0\n"),
            "run -s s.toml",
            "bedrock.output_tokens",
        ),
        with_file(
            s("[load]\nduration = \"100000000000h\"\n"),
            "run -s s.toml",
            "duration",
        ),
        with_file(
            s("[load]\nconcurrency = 0\n"),
            "run -s s.toml",
            "load.concurrency",
        ),
        with_file(
            s("[request]\ntop_k = 0\n"),
            "run -s s.toml",
            "request.top_k",
        ),
        with_file(s("[load]\nrate = -1\n"), "run -s s.toml", "load.rate"),
        with_file(
            s("[load]\nrate = 10\n"),
            "run -s s.toml -c 8",
            "--concurrency",
        ),
        with_file(s("[load\nrate = 1\n"), "run -s s.toml", "s.toml"),
        with_file(
            s("[load]\nvariants = [\"fast\"]\n"),
            "run -s s.toml",
            "load.variants",
        ),
        with_file(
            s("[client]\nrequest_timeout_ms = 0\n"),
            "run -s s.toml",
            "request_timeout_ms",
        ),
        with_file(
            s("[bedrock]\nttft_ms = { dist = \"lognormal\", median = 450 }\n"),
            "run -s s.toml",
            "ttft_ms",
        ),
        with_file(
            s("[faults.converse_stream]\nthrottle = 1.5\n"),
            "run -s s.toml",
            "throttle",
        ),
        with_file(s("time_scale = \"fast\"\n"), "run -s s.toml", "time_scale"),
        case("run -s missing.toml", "missing.toml"),
    ];
    insta::assert_snapshot!("scenario_files", transcript(&cases));
}

#[test]
fn result_files() {
    let r = |content: &'static str| -> &'static [(&'static str, &'static str)] {
        Box::leak(Box::new([("r.json", content)]))
    };
    let cases = [
        with_file(r("this is not JSON"), "report r.json", "r.json"),
        with_file(r(""), "report r.json", "r.json"),
        with_file(
            r("{\"schema\":\"ragperf.result.v9\"}"),
            "report r.json",
            "ragperf.result.v9",
        ),
        with_file(
            r("{\"schema\":\"ragperf.result.v1\",\"runs\":["),
            "report r.json",
            "r.json",
        ),
        with_file(
            r("{\"schema\":\"ragperf.result.v1\"}"),
            "report r.json",
            "r.json",
        ),
        with_file(r("[1,2,3]"), "report r.json", "r.json"),
        case("report <tmp>", "result.json"),
        case("report missing-dir", "missing-dir"),
        with_file(r("{}"), "report r.json --format pdf", "pdf"),
    ];
    insta::assert_snapshot!("result_files", transcript(&cases));
}

/// Not in a snapshot: the limit it quotes is the machine's.
#[test]
fn more_users_than_open_files_is_refused_with_the_fix() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    if !ok || lim.rlim_max == libc::RLIM_INFINITY {
        return; // nothing to exceed
    }
    let users = (lim.rlim_max / 2 + 1).to_string();
    let out = Command::new(assert_cmd::cargo::cargo_bin("ragperf"))
        .args(["run", "--variant", "async", "-c", &users, "--out"])
        .arg(tempfile::tempdir().expect("tempdir").path())
        .output()
        .expect("run ragperf");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--concurrency"), "{stderr}");
    assert!(stderr.contains("open files"), "{stderr}");
    assert!(stderr.contains("ulimit -Hn"), "{stderr}");
}

//! `stat` lines are parsed after the last `)`, whatever the thread name contains.

use ragperf::metrics::process::{TaskCpuTicks, parse_task_stat};

#[test]
fn name_with_spaces_and_parentheses_does_not_shift_fields() {
    // Field 2 is "(mock-) (a b) )": spaces and ')' inside the name itself.
    let line = b"4242 (mock-) (a b) )) S 1 4242 4242 0 -1 4194624 120 0 0 0 77 33 0 0 20 0 1 0 \
                 5512 10485760 300 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
    assert_eq!(
        parse_task_stat(line),
        Some(TaskCpuTicks {
            utime: 77,
            stime: 33
        })
    );
}

#[test]
fn plain_line_parses() {
    let line = b"1 (sync-worker-3) R 0 1 1 0 -1 0 0 0 0 0 123456 7 0 0 20 0 1 0 1 0 0";
    assert_eq!(
        parse_task_stat(line),
        Some(TaskCpuTicks {
            utime: 123_456,
            stime: 7
        })
    );
}

#[test]
fn truncated_or_garbled_lines_are_rejected() {
    assert_eq!(parse_task_stat(b""), None);
    assert_eq!(parse_task_stat(b"1 (x) S 1 2 3"), None);
    assert_eq!(
        parse_task_stat(b"1 x S 1 2 3 4 5 6 7 8 9 10 11 12 13"),
        None
    );
    assert_eq!(parse_task_stat(b"1 (x) S 0 1 1 0 -1 0 0 0 0 0 u1 2"), None);
}

#[test]
fn this_threads_stat_parses() {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let line = std::fs::read(format!("/proc/self/task/{tid}/stat")).expect("read own stat");
    assert!(
        parse_task_stat(&line).is_some(),
        "{}",
        String::from_utf8_lossy(&line)
    );
}

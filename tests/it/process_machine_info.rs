//! Machine detection fills what this Linux box can tell.

use ragperf::metrics::machine::{MachineInfo, UNKNOWN};

#[test]
fn detects_this_machine() {
    let m = MachineInfo::detect();
    assert!(m.cores >= 1);
    assert!(m.memory_bytes > 0);
    assert_ne!(m.kernel, UNKNOWN);
    assert!(!m.os.is_empty() && !m.hostname.is_empty());
    assert_eq!(m.ragperf_version, env!("CARGO_PKG_VERSION"));
    assert!(m.fd_soft_limit >= 1 && m.fd_soft_limit <= m.fd_hard_limit);
    let json = serde_json::to_string(&m).expect("serialise");
    assert_eq!(
        serde_json::from_str::<MachineInfo>(&json).expect("deserialise"),
        m
    );
}

//! The scenario files shipped in `scenarios/` parse and validate, and `seed.toml` is exactly the
//! built-in default (so the README's description of the defaults stays true).

use ragperf::scenario::Scenario;

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[test]
fn every_shipped_scenario_is_valid() {
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = Scenario::from_file(&path) {
                panic!("{}: {e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 3, "expected the shipped scenarios, found {n}");
}

#[test]
fn seed_toml_is_the_default() {
    let seed = Scenario::from_file(&dir().join("seed.toml")).expect("seed.toml");
    assert_eq!(seed, Scenario::default());
}

//! What is measured: per-request histograms and counters ([`recorder`]), the OS's own figures for
//! the process ([`process`]), for a server under test ([`server`], its GIL with py-spy: [`gil`]) and for the machine
//! ([`machine`]), and the latency model's lower bound ([`ideal`]).

pub mod catalogue;
pub mod gil;
pub(crate) mod ideal;
pub mod machine;
pub mod process;
pub mod recorder;
pub mod server;

//! bellwether's steps on this machine: [`HostExecutor`] runs scripts as process groups with a
//! clean environment and timeouts that kill the whole group, cache and artifact steps with the
//! runner's stores, and deploy steps through the runner's deployer or as stand-ins.
//! [`HostLauncher`] is how `bellwether-runner`'s attempts get one.

mod host;
mod launcher;
mod load;
mod outputs;
mod process;
mod reaper;
mod toolchain;
mod verify;

pub use host::HostExecutor;
pub use launcher::HostLauncher;
pub use process::Groups;

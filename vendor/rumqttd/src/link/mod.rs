pub mod alerts;
pub mod bridge;
#[cfg(feature = "console")] // ny-power patch: behind a feature
pub mod console;
pub mod local;
pub mod meters;
pub mod network;
pub mod remote;
pub mod timer;

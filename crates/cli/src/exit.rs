//! Exit codes, the same for every command so that pipelines can rely on them.

use std::process::ExitCode;

/// Exit codes, as documented in `bellwether --help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Code(u8);

/// Everything worked, or the checked thing is healthy.
pub(crate) const SUCCESS: Code = Code(0);
/// The command ran but its subject failed: an invalid config, an aborted rollout, or an error.
pub(crate) const FAILURE: Code = Code(1);
/// Bad input: a load file with problems (clap uses 2 for unknown commands and flags too).
pub(crate) const BAD_INPUT: Code = Code(2);
/// The rollout stopped waiting for a human (a pause until promoted, an inconclusive analysis).
pub(crate) const PAUSED: Code = Code(3);
/// `bellwether status` gave up waiting for the rollout to end.
pub(crate) const TIMED_OUT: Code = Code(4);
/// `bellwether load`: a threshold failed, as k6 exits.
pub(crate) const THRESHOLDS_FAILED: Code = Code(99);
/// Whoever read the output went away before it was written (`| head`): what a shell reports
/// of a process that SIGPIPE ended, 128 + 13.
pub(crate) const OUTPUT_CLOSED: Code = Code(141);

pub(crate) const HELP: &str = "\
Exit codes:
  0  success (a valid config; a rollout that ended healthy)
  1  failure (an invalid config; an aborted or degraded rollout; any other error)
  2  usage error (unknown command or flag; a load file with problems)
  3  a rollout is paused, waiting for a human to promote or abort
  4  `bellwether status` timed out before the rollout ended
 99  `bellwether load`: a threshold failed (as k6)
141  the output was closed before it was all written (`| head`)";

impl Code {
    /// As `std::process::exit` takes it.
    pub(crate) fn status(self) -> i32 {
        i32::from(self.0)
    }
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code.0)
    }
}

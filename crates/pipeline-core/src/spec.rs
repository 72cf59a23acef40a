//! What a pipeline declares, validated: triggers, jobs, steps, matrices. The
//! `bellwether-config` crate lowers `bellwether.yaml`'s `pipelines:` into these types; the
//! [`run`](crate::run) state machine executes them.

mod job;
mod pipeline;
mod secrets;
mod step;

pub use job::{EnvironmentRef, Flag, JobSpec, MatrixSource, MatrixStrategy, Retry};
pub use pipeline::{Concurrency, PipelineSpec, RunDefaults};
pub use secrets::SecretUse;
pub use step::{CacheSpec, Shell, StepAction, StepSpec};

//! What a pipeline declares, validated: triggers, jobs, steps, matrices. The
//! `bellwether-config` crate lowers `bellwether.yaml`'s `pipelines:` into these types; the
//! [`run`](crate::run) state machine executes them.

mod call;
mod job;
mod pipeline;
mod secrets;
mod settings;
mod step;

pub use call::{CallFrame, PassedSecrets};
pub use job::{EnvironmentRef, JobSpec, MatrixSource, MatrixStrategy, Retry};
pub use pipeline::PipelineSpec;
pub use secrets::SecretUse;
pub use settings::{Concurrency, Flag, RunDefaults, Shell};
pub use step::{CacheSpec, StepAction, StepSpec};

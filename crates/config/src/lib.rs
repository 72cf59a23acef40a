//! `bellwether.yaml`: parsing into a file model that keeps source positions, validation with
//! diagnostics that name `file:line:column` and what was expected, the JSON Schema generated
//! from the same types, and lowering into the core's specs.
//!
//! The pipeline is `source -> parse -> Config (file model) -> validate/lower -> Project`.
//! [`parse`] stops at the first syntax or type error (the YAML parser cannot go on);
//! [`Config::validate`] and [`load`] report every semantic problem at once. Nothing here does
//! I/O: reading the file is the caller's job.
//!
//! ```
//! let loaded = bellwether_config::load("bellwether.yaml", "services:\n  api:\n    run: {command: [./api]}\n")
//!     .expect("a valid file");
//! assert_eq!(loaded.project.services["api"].replicas, 1);
//! ```

mod diagnostic;
mod lower;
mod migrate;
pub mod model;
mod schema;
mod span;
mod structure;
mod suggest;
mod syntax;
mod tree;
pub mod values;

use bellwether_core::spec::Project;
use bellwether_pipeline_core::spec::PipelineSpec;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use schema::schema;
pub use span::{Entries, Pos, Spanned};

use diagnostic::Sink;
use model::ProjectFile;

/// A parsed `bellwether.yaml`: its file model and the name diagnostics use for it.
#[derive(Clone, Debug)]
pub struct Config {
    file_name: String,
    file: ProjectFile,
}

/// A project that passed validation, with the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub project: Project,
    /// The pipelines, in file order.
    pub pipelines: Vec<PipelineSpec>,
    pub warnings: Diagnostics,
}

/// Parses `source`, reporting syntax and type errors (unknown keys, a string where a number
/// belongs, a bad duration) against `file_name`. Only the first such error can be reported.
pub fn parse(file_name: &str, source: &str) -> Result<Config, Diagnostics> {
    let file = syntax::parse(file_name, source)?;
    Ok(Config {
        file_name: file_name.to_owned(),
        file,
    })
}

/// Parses, validates and lowers `source` into the core's [`Project`].
pub fn load(file_name: &str, source: &str) -> Result<Loaded, Diagnostics> {
    parse(file_name, source)?.lower()
}

impl Config {
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The file as written.
    pub fn file(&self) -> &ProjectFile {
        &self.file
    }

    /// Every semantic error and warning in the file, in file order.
    pub fn validate(&self) -> Diagnostics {
        self.check().2
    }

    /// The validated project, or every diagnostic (warnings included) if there is an error.
    pub fn lower(&self) -> Result<Loaded, Diagnostics> {
        let (project, pipelines, diagnostics) = self.check();
        if diagnostics.has_errors() {
            return Err(diagnostics);
        }
        Ok(Loaded {
            project,
            pipelines,
            warnings: diagnostics,
        })
    }

    fn check(&self) -> (Project, Vec<PipelineSpec>, Diagnostics) {
        let mut sink = Sink::new(&self.file_name);
        let (project, pipelines) = lower::project(&self.file, &mut sink);
        (project, pipelines, sink.finish())
    }
}

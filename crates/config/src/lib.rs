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

mod called;
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

use std::path::Path;

use bellwether_core::spec::{EnvironmentSpec, Project};
use bellwether_pipeline_core::spec::PipelineSpec;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use schema::schema;
pub use span::{Entries, Pos, Spanned};

use diagnostic::Sink;
use lower::Workflows;
use model::ProjectFile;

/// Reads a file the project refers to (a `workflow:` file), given its path: the path written,
/// joined to the project file's directory. The caller does the reading, so that this crate
/// does no I/O.
pub type Read<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// A GitHub Actions workflow file that passed validation, as one pipeline.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub pipeline: PipelineSpec,
    /// Each job's `runs-on`, as written, for saying where it runs instead.
    pub runs_on: Vec<(String, String)>,
    /// The environments the jobs name: as on GitHub, they exist by being named.
    pub environments: Vec<String>,
    pub warnings: Diagnostics,
}

/// Parses, validates and lowers a GitHub Actions workflow file on its own: its jobs are the
/// pipeline's, named by the workflow's `name` (made a valid name) or else the file's stem.
pub fn load_workflow(file_name: &str, source: &str) -> Result<Workflow, Diagnostics> {
    load_workflow_with(file_name, source, &no_files)
}

/// [`load_workflow`], reading the workflows its jobs call (`uses: ./…`) with `read`.
pub fn load_workflow_with(
    file_name: &str,
    source: &str,
    read: Read<'_>,
) -> Result<Workflow, Diagnostics> {
    let config = syntax::parse_workflow(file_name, source)?;
    let mut sink = Sink::new(file_name);
    let called = called::read_all(file_name, [&config], read);
    let (pipeline, environments) = lower::workflow(file_name, &config, &called, &mut sink);
    let diagnostics = sink.finish();
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let runs_on = config
        .jobs
        .iter()
        .filter_map(|(id, job)| {
            let value = &job.value.runs_on.as_ref()?.value;
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(labels) => labels
                    .iter()
                    .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            Some((id.value.clone(), text))
        })
        .collect();
    Ok(Workflow {
        pipeline,
        runs_on,
        environments,
        warnings: diagnostics,
    })
}

/// Like [`load`], reading the workflow files that `pipelines:` entries name with `read`. A
/// workflow file itself ([`is_workflow`]) loads as a project of its one pipeline and the
/// environments its jobs name.
pub fn load_with(file_name: &str, source: &str, read: Read<'_>) -> Result<Loaded, Diagnostics> {
    if !is_workflow(source) {
        return parse(file_name, source)?.lower_with(read);
    }
    let workflow = load_workflow_with(file_name, source, read)?;
    let mut project = Project::default();
    for name in &workflow.environments {
        project.environments.insert(
            name.clone(),
            EnvironmentSpec {
                name: name.clone(),
                branches: Vec::new(),
                approvals: 0,
                allow_self_approval: true,
                reviewers: Vec::new(),
                wait: std::time::Duration::ZERO,
                soak: None,
                vars: std::collections::BTreeMap::new(),
            },
        );
    }
    Ok(Loaded {
        project,
        pipelines: vec![workflow.pipeline],
        warnings: workflow.warnings,
    })
}

/// Whether `source` looks like a GitHub Actions workflow rather than a `bellwether.yaml`:
/// `jobs:` at the top level, which a project file never has.
pub fn is_workflow(source: &str) -> bool {
    source.lines().any(|l| {
        l.strip_prefix("jobs:")
            .is_some_and(|rest| rest.trim().is_empty() || rest.trim().starts_with('#'))
    })
}

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
        self.check(&no_files).2
    }

    /// The validated project, or every diagnostic (warnings included) if there is an error.
    /// A pipeline that names a workflow file is an error: [`Config::lower_with`] reads them.
    pub fn lower(&self) -> Result<Loaded, Diagnostics> {
        self.lower_with(&no_files)
    }

    /// [`Config::lower`], reading the workflow files that pipelines name with `read`.
    pub fn lower_with(&self, read: Read<'_>) -> Result<Loaded, Diagnostics> {
        let (project, pipelines, diagnostics) = self.check(read);
        if diagnostics.has_errors() {
            return Err(diagnostics);
        }
        Ok(Loaded {
            project,
            pipelines,
            warnings: diagnostics,
        })
    }

    fn check(&self, read: Read<'_>) -> (Project, Vec<PipelineSpec>, Diagnostics) {
        let mut sink = Sink::new(&self.file_name);
        let workflows = self.workflows(read, &mut sink);
        let inline = self.file.pipelines.iter().map(|(_, p)| &p.value);
        let called = called::read_all(
            &self.file_name,
            inline.chain(workflows.values().map(|(_, config)| config)),
            read,
        );
        let (project, pipelines) = lower::project(&self.file, &workflows, &called, &mut sink);
        (project, pipelines, sink.finish())
    }

    /// Reads and parses the workflow files pipelines name; a file that cannot be read or
    /// parsed is reported, and its pipeline left out.
    fn workflows(&self, read: Read<'_>, sink: &mut Sink<'_>) -> Workflows {
        let dir = Path::new(&self.file_name).parent().unwrap_or(Path::new(""));
        let mut out = Workflows::new();
        for (name, pipeline) in self.file.pipelines.iter() {
            let Some(workflow) = &pipeline.value.workflow else {
                continue;
            };
            let path = dir.join(&workflow.value);
            let shown = path.display().to_string();
            match read(&path) {
                Err(e) => sink.error(
                    workflow.pos,
                    format!("cannot read workflow file {shown}: {e}"),
                ),
                Ok(source) => match syntax::parse_workflow(&shown, &source) {
                    Ok(config) => {
                        out.insert(name.value.clone(), (shown, config));
                    }
                    Err(diagnostics) => sink.absorb(diagnostics),
                },
            }
        }
        out
    }
}

/// The reader of [`load`]: workflow files are not read.
fn no_files(_: &Path) -> std::io::Result<String> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "files are not read here",
    ))
}

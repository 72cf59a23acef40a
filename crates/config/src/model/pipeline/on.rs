//! `on:`: the events that start a pipeline and their filters.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::Names;
use crate::span::{Entries, Pos, Spanned};
use crate::suggest::did_you_mean;

const EVENTS: &[&str] = &[
    "push",
    "pull_request",
    "tag",
    "schedule",
    "manual",
    "workflow_dispatch",
    "workflow_run",
    "workflow_call",
    "release",
];

/// The triggers, however written: `on: push`, `on: [push, pull_request]`, or a mapping.
#[derive(Clone, Debug, Default)]
pub struct OnConfig {
    pub push: Option<Spanned<Option<PushConfig>>>,
    pub pull_request: Option<Spanned<Option<PullRequestConfig>>>,
    pub tag: Option<Spanned<Option<TagConfig>>>,
    pub schedule: Option<Spanned<Vec<ScheduleConfig>>>,
    pub manual: Option<Spanned<Option<ManualConfig>>>,
    pub workflow_dispatch: Option<Spanned<Option<ManualConfig>>>,
    pub workflow_run: Option<Spanned<WorkflowRunConfig>>,
    pub workflow_call: Option<Spanned<Option<WorkflowCallConfig>>>,
    pub release: Option<Spanned<Option<ReleaseConfig>>>,
}

/// `push:` with nothing after it is there, with no filters.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Spanned<Option<T>>>, D::Error> {
    Spanned::<Option<T>>::deserialize(deserializer).map(Some)
}

/// The same fields, derived, for the mapping form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnMap {
    #[serde(default, deserialize_with = "present")]
    push: Option<Spanned<Option<PushConfig>>>,
    #[serde(default, deserialize_with = "present")]
    pull_request: Option<Spanned<Option<PullRequestConfig>>>,
    #[serde(default, deserialize_with = "present")]
    tag: Option<Spanned<Option<TagConfig>>>,
    schedule: Option<Spanned<Vec<ScheduleConfig>>>,
    #[serde(default, deserialize_with = "present")]
    manual: Option<Spanned<Option<ManualConfig>>>,
    #[serde(default, deserialize_with = "present")]
    workflow_dispatch: Option<Spanned<Option<ManualConfig>>>,
    workflow_run: Option<Spanned<WorkflowRunConfig>>,
    #[serde(default, deserialize_with = "present")]
    workflow_call: Option<Spanned<Option<WorkflowCallConfig>>>,
    #[serde(default, deserialize_with = "present")]
    release: Option<Spanned<Option<ReleaseConfig>>>,
}

impl OnConfig {
    /// Marks event `name`, written without filters, as present.
    fn add<E: de::Error>(&mut self, name: &str) -> Result<(), E> {
        match name {
            "push" => self.push = Some(Spanned::new(None, Pos::UNKNOWN)),
            "pull_request" => self.pull_request = Some(Spanned::new(None, Pos::UNKNOWN)),
            "tag" => self.tag = Some(Spanned::new(None, Pos::UNKNOWN)),
            "manual" => self.manual = Some(Spanned::new(None, Pos::UNKNOWN)),
            "workflow_dispatch" => self.workflow_dispatch = Some(Spanned::new(None, Pos::UNKNOWN)),
            "release" => self.release = Some(Spanned::new(None, Pos::UNKNOWN)),
            "workflow_call" => self.workflow_call = Some(Spanned::new(None, Pos::UNKNOWN)),
            "workflow_run" => {
                return Err(E::custom(
                    "`workflow_run` needs the pipelines it follows (expected `workflow_run: {workflows: [ci]}`)",
                ));
            }
            "schedule" => {
                return Err(E::custom(
                    "`schedule` needs its cron lines (expected `schedule: [{cron: \"0 2 * * 1\"}]`)",
                ));
            }
            other => {
                return Err(E::custom(format!(
                    "unknown event `{other}`{} (expected one of {})",
                    did_you_mean(other, EVENTS.iter().copied()),
                    EVENTS.join(", ")
                )));
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for OnConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OnVisitor;

        impl<'de> Visitor<'de> for OnVisitor {
            type Value = OnConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an event like push, a list of events, or a mapping of events to filters",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let mut on = OnConfig::default();
                on.add(v)?;
                Ok(on)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut on = OnConfig::default();
                while let Some(name) = seq.next_element::<String>()? {
                    on.add(&name)?;
                }
                Ok(on)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let m = OnMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(OnConfig {
                    push: m.push,
                    pull_request: m.pull_request,
                    tag: m.tag,
                    schedule: m.schedule,
                    manual: m.manual,
                    workflow_dispatch: m.workflow_dispatch,
                    workflow_run: m.workflow_run,
                    workflow_call: m.workflow_call,
                    release: m.release,
                })
            }
        }

        deserializer.deserialize_any(OnVisitor)
    }
}

/// Branch, tag and path filters of a push (GitHub's glob syntax; `!` excludes).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PushConfig {
    pub branches: Option<Spanned<Names>>,
    pub branches_ignore: Option<Spanned<Names>>,
    pub tags: Option<Spanned<Names>>,
    pub tags_ignore: Option<Spanned<Names>>,
    /// Runs only when a changed path matches.
    pub paths: Option<Spanned<Names>>,
    /// Runs unless every changed path matches.
    pub paths_ignore: Option<Spanned<Names>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PullRequestConfig {
    /// The branches the pull request targets.
    pub branches: Option<Spanned<Names>>,
    pub branches_ignore: Option<Spanned<Names>>,
    pub paths: Option<Spanned<Names>>,
    pub paths_ignore: Option<Spanned<Names>>,
    /// Activity types. Default: opened, synchronize, reopened.
    pub types: Option<Spanned<Names>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TagConfig {
    pub tags: Option<Spanned<Names>>,
    pub tags_ignore: Option<Spanned<Names>>,
}

/// A run of another pipeline of the file was requested or ended.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkflowRunConfig {
    /// The pipelines whose runs it follows, by name.
    pub workflows: Spanned<Names>,
    /// `completed` (the default: the run ended, whatever its conclusion) or `requested`.
    pub types: Option<Spanned<Names>>,
    /// The branches the other run ran on.
    pub branches: Option<Spanned<Names>>,
    pub branches_ignore: Option<Spanned<Names>>,
}

/// Called by a job of another workflow (`uses: ./.github/workflows/this.yml`), which passes
/// its inputs and secrets and gets its outputs.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowCallConfig {
    /// Typed inputs (`string`, `number`, `boolean`), by name, given by the caller's `with`.
    #[serde(default)]
    pub inputs: Entries<InputConfig>,
    /// The secrets the caller passes, by the name this workflow reads them by.
    #[serde(default)]
    pub secrets: Entries<CallSecretConfig>,
    /// Values for the caller's later jobs, from this workflow's jobs:
    /// `value: ${{ jobs.build.outputs.version }}`.
    #[serde(default)]
    pub outputs: Entries<CallOutputConfig>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallSecretConfig {
    pub description: Option<String>,
    /// A caller that passes secrets by name must pass this one. Default: false.
    pub required: Option<bool>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallOutputConfig {
    pub description: Option<String>,
    pub value: Spanned<String>,
}

/// A GitHub release's activity, from a `release` webhook.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConfig {
    /// Activity types, e.g. `published`. Default: any.
    pub types: Option<Spanned<Names>>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Five fields, in UTC: minute hour day-of-month month day-of-week.
    pub cron: Spanned<String>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualConfig {
    /// Typed inputs, by name, given as `--input name=value`.
    #[serde(default)]
    pub inputs: Entries<InputConfig>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    pub description: Option<String>,
    /// Default: string.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<InputType>>,
    /// Used when the input is not given; must fit the type.
    pub default: Option<Spanned<String>>,
    /// A run without it, and without a default, is refused. Default: false.
    pub required: Option<bool>,
    /// The values a `choice` accepts.
    pub options: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Number,
    Boolean,
    Choice,
}

/// The mapping form, for the schema only: the parser reads it through `OnMap`.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OnMapping")]
#[expect(dead_code, reason = "read by schemars only")]
struct OnSchema {
    /// A push of a branch or a tag.
    push: Option<PushConfig>,
    /// A pull request's activity; `branches` filters the branch it targets.
    pull_request: Option<PullRequestConfig>,
    /// A push of a tag: the same as `push` with only tag filters.
    tag: Option<TagConfig>,
    /// Cron schedules, in UTC: `- cron: "0 2 * * 1"`.
    schedule: Option<Vec<ScheduleConfig>>,
    /// A run asked for by hand, with typed inputs.
    manual: Option<ManualConfig>,
    /// GitHub's name for `manual`.
    workflow_dispatch: Option<ManualConfig>,
    /// A run of another pipeline of the file ended (or was requested).
    workflow_run: Option<WorkflowRunConfig>,
    /// Called by a job of another workflow, with inputs and secrets, giving back outputs.
    workflow_call: Option<WorkflowCallConfig>,
    /// A GitHub release's activity, from a signed `release` webhook.
    release: Option<ReleaseConfig>,
}

impl JsonSchema for OnConfig {
    fn schema_name() -> Cow<'static, str> {
        "On".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let map = generator.subschema_for::<OnSchema>();
        json_schema!({
            "description": "The events that start a run: an event name, a list of them, or a mapping of events to their filters.",
            "anyOf": [
                { "type": "string", "enum": EVENTS },
                { "type": "array", "items": { "type": "string", "enum": EVENTS } },
                map
            ]
        })
    }
}

//! A workflow called by a job of another (`uses: ./.github/workflows/x.yml`): its jobs run in
//! the caller's run, under ids prefixed with the calling job's, and each sees the world as
//! its own workflow names it, through its [`CallFrame`].

use std::collections::BTreeMap;

use crate::inputs::InputKind;

/// What a job of a called workflow sees in place of the run's: its workflow's jobs by the
/// ids it gave them, the `inputs` the calling job passed and the secrets it passed on.
#[derive(Clone, Debug, PartialEq)]
pub struct CallFrame {
    /// The job that enters the called workflow where the calling job stands (its `needs`
    /// and `if`): its outputs are the workflow's inputs, and the workflow runs only if it
    /// succeeded.
    pub entry: String,
    /// The called workflow's job ids, and the ids its jobs have in the run.
    pub jobs: BTreeMap<String, String>,
    /// The inputs the workflow declares, with their types: the entry's outputs, typed.
    pub inputs: Vec<(String, InputKind)>,
    pub secrets: PassedSecrets,
}

/// The secrets a called workflow sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassedSecrets {
    /// `secrets: inherit`: the caller's, by their names.
    Inherit,
    /// `secrets: {token: ${{ secrets.API_TOKEN }}}`: by the called workflow's name (upper
    /// case), the caller's secret it stands for; the others are not there.
    Named(BTreeMap<String, String>),
}

impl CallFrame {
    /// The run's id of the job the called workflow names `id`.
    pub fn real(&self, id: &str) -> Option<&str> {
        self.jobs.get(id).map(String::as_str)
    }

    /// The id the called workflow gives the job whose run id is `real`.
    pub fn called_id(&self, real: &str) -> Option<&str> {
        self.jobs
            .iter()
            .find(|(_, r)| *r == real)
            .map(|(id, _)| id.as_str())
    }

    /// The secret of the run that the called workflow's secret `name` stands for.
    pub fn secret(&self, name: &str) -> Option<String> {
        match &self.secrets {
            PassedSecrets::Inherit => Some(name.to_ascii_uppercase()),
            PassedSecrets::Named(names) => names.get(&name.to_ascii_uppercase()).cloned(),
        }
    }

    /// This frame seen from a workflow that calls the one it belongs to through `outer`:
    /// ids prefixed with `prefix`, secrets passed through the outer mapping too.
    pub fn within(&self, prefix: &str, outer: &PassedSecrets) -> CallFrame {
        let secrets = match (&self.secrets, outer) {
            (inner, PassedSecrets::Inherit) => inner.clone(),
            (PassedSecrets::Inherit, outer) => outer.clone(),
            (PassedSecrets::Named(inner), PassedSecrets::Named(outer)) => PassedSecrets::Named(
                inner
                    .iter()
                    .filter_map(|(name, theirs)| Some((name.clone(), outer.get(theirs)?.clone())))
                    .collect(),
            ),
        };
        CallFrame {
            entry: format!("{prefix}{}", self.entry),
            jobs: self
                .jobs
                .iter()
                .map(|(id, real)| (id.clone(), format!("{prefix}{real}")))
                .collect(),
            inputs: self.inputs.clone(),
            secrets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, &str)]) -> PassedSecrets {
        PassedSecrets::Named(
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_nested_frame_passes_secrets_through_both_mappings() {
        let inner = CallFrame {
            entry: "deep:inputs".to_owned(),
            jobs: BTreeMap::from([("x".to_owned(), "deep.x".to_owned())]),
            inputs: Vec::new(),
            secrets: named(&[("TOKEN", "MIDDLE"), ("OTHER", "GONE")]),
        };
        let seen = inner.within("top.", &named(&[("MIDDLE", "API_TOKEN")]));
        assert_eq!(seen.entry, "top.deep:inputs");
        assert_eq!(seen.real("x"), Some("top.deep.x"));
        assert_eq!(seen.called_id("top.deep.x"), Some("x"));
        assert_eq!(seen.secret("token").as_deref(), Some("API_TOKEN"));
        assert_eq!(seen.secret("other"), None);
        let inherited = CallFrame {
            secrets: PassedSecrets::Inherit,
            ..inner.clone()
        };
        assert_eq!(
            inherited
                .within("top.", &named(&[("A", "B")]))
                .secret("a")
                .as_deref(),
            Some("B")
        );
        assert_eq!(
            inner
                .within("top.", &PassedSecrets::Inherit)
                .secret("token")
                .as_deref(),
            Some("MIDDLE")
        );
    }
}

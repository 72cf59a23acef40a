//! `actions/setup-*` on this host: the toolchain on `PATH`, if its version is one the step
//! asks for. Nothing is downloaded; a missing or unsuitable toolchain fails the step with what
//! to install.

use std::process::{Command, Stdio};

use bellwether_pipeline_core::toolchain::{Toolchain, Version, satisfies};

/// The host's version of `tool` and a note for the log, or why the step fails.
pub(crate) fn check(tool: Toolchain, want: Option<&str>) -> Result<(String, String), String> {
    let [program, args @ ..] = tool.command() else {
        return Err(format!("no command is known for {tool}"));
    };
    let wanted = want.map(|w| format!(" {w}")).unwrap_or_default();
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "{tool}{wanted} was asked for, but `{program}` cannot be run on this host ({e}): install {} and put it on PATH",
                tool.package()
            )
        })?;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let have: Version = tool.parse_version(&printed).ok_or_else(|| {
        format!(
            "`{}` printed no version this step can read: {}",
            tool.command().join(" "),
            printed.lines().next().unwrap_or_default()
        )
    })?;
    let Some(want) = want else {
        return Ok((
            have.to_string(),
            format!("using this host's {tool} {have} (`{program}` on PATH)"),
        ));
    };
    let input = tool.version_input();
    if satisfies(&have, want).map_err(|e| format!("{input}: {e}"))? {
        Ok((
            have.to_string(),
            format!(
                "using this host's {tool} {have} (`{program}` on PATH), which satisfies {input} `{want}`"
            ),
        ))
    } else {
        Err(format!(
            "{input} `{want}` was asked for, but this host's {tool} is {have}: install {} in a version matching `{want}` and put it first on PATH, or change {input}",
            tool.package()
        ))
    }
}

//! Workflow commands, as GitHub Actions reads them from a step's output: a line
//! `::name key=value,…::message`. `add-mask` masks a value in every line after it and is not
//! shown; `group`/`endgroup` become a heading and nothing; `error`, `warning` and `notice`
//! become `error: file:line:col: title: message`; `debug` is not shown; `stop-commands` turns
//! them all off until its token comes back. Any other line, and any command not known, is
//! shown as printed.

use std::borrow::Cow;

use crate::mask::Masker;

/// What a line became.
#[derive(Debug, PartialEq, Eq)]
pub enum Shown<'a> {
    /// Show this, masked.
    Line(Cow<'a, [u8]>),
    /// Show nothing.
    Hidden,
}

/// The commands of one output stream of one step: they stop and resume within it.
#[derive(Debug, Default)]
pub struct Commands {
    /// While commands are stopped: the token that resumes them.
    stopped: Option<Vec<u8>>,
}

impl Commands {
    /// What `line`, as the step printed it, shows; `add-mask` adds to `masker`.
    pub fn line<'a>(&mut self, line: &'a [u8], masker: &Masker) -> Shown<'a> {
        let Some((name, properties, message)) = split(line) else {
            return Shown::Line(Cow::Borrowed(line));
        };
        if let Some(token) = &self.stopped {
            if name == &token[..] {
                self.stopped = None;
                return Shown::Hidden;
            }
            return Shown::Line(Cow::Borrowed(line));
        }
        match name {
            b"add-mask" => {
                let value = String::from_utf8_lossy(message);
                let value = unescape_data(value.trim());
                if !value.is_empty() {
                    masker.add(&value);
                }
                Shown::Hidden
            }
            b"stop-commands" if !message.is_empty() => {
                self.stopped = Some(message.to_vec());
                Shown::Hidden
            }
            b"group" => {
                let title = unescape_data(&String::from_utf8_lossy(message));
                Shown::Line(Cow::Owned(format!("▸ {title}").into_bytes()))
            }
            b"endgroup" | b"debug" | b"echo" => Shown::Hidden,
            b"error" | b"warning" | b"notice" => Shown::Line(Cow::Owned(
                annotation(name, properties, message).into_bytes(),
            )),
            _ => Shown::Line(Cow::Borrowed(line)),
        }
    }
}

/// `::name props::message` into its parts; `None` for a line that is no command.
fn split(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let rest = line.strip_prefix(b"::")?;
    let end = rest.windows(2).position(|w| w == b"::")?;
    let (head, message) = (&rest[..end], &rest[end + 2..]);
    let (name, properties) = match head.iter().position(|&b| b == b' ') {
        Some(space) => (&head[..space], &head[space + 1..]),
        None => (head, &b""[..]),
    };
    let known = !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    known.then_some((name, properties, message))
}

/// `error: app.js:10:5: Title: message`, from `::error file=app.js,line=10,col=5,title=Title::message`.
fn annotation(level: &[u8], properties: &[u8], message: &[u8]) -> String {
    let properties = String::from_utf8_lossy(properties);
    let get = |key: &str| {
        properties
            .split(',')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| unescape_property(v.trim()))
    };
    let mut out = String::from_utf8_lossy(level).into_owned();
    out.push(':');
    if let Some(file) = get("file") {
        out.push(' ');
        out.push_str(&file);
        for key in ["line", "col"] {
            if let Some(n) = get(key) {
                out.push(':');
                out.push_str(&n);
            }
        }
        out.push(':');
    }
    if let Some(title) = get("title") {
        out.push(' ');
        out.push_str(&title);
        out.push(':');
    }
    out.push(' ');
    out.push_str(&unescape_data(&String::from_utf8_lossy(message)));
    out
}

/// A message's escapes: `%25`, `%0D`, `%0A`.
fn unescape_data(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

/// A property's escapes: a message's, and `%3A`, `%2C`.
fn unescape_property(text: &str) -> String {
    unescape_data(&text.replace("%3A", ":").replace("%2C", ","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(commands: &mut Commands, masker: &Masker, line: &str) -> Option<String> {
        match commands.line(line.as_bytes(), masker) {
            Shown::Line(l) => Some(String::from_utf8_lossy(&masker.mask(&l)).into_owned()),
            Shown::Hidden => None,
        }
    }

    #[test]
    fn a_masked_value_is_hidden_from_the_next_line_on() {
        let masker = Masker::new(["known"]);
        let mut commands = Commands::default();
        let mut show = |line| shown(&mut commands, &masker, line);
        assert_eq!(
            show("token is abc123xyz").as_deref(),
            Some("token is abc123xyz")
        );
        assert_eq!(show("::add-mask::abc123xyz"), None);
        assert_eq!(
            show("token is abc123xyz, known").as_deref(),
            Some("token is ***, ***")
        );
        assert_eq!(show("::add-mask::   "), None);
        assert_eq!(
            show("in base64: YWJjMTIzeHl6").as_deref(),
            Some("in base64: ***")
        );
    }

    #[test]
    fn groups_and_annotations_read_as_text() {
        let masker = Masker::default();
        let mut commands = Commands::default();
        let mut show = |line| shown(&mut commands, &masker, line);
        assert_eq!(
            show("::group::Install dependencies").as_deref(),
            Some("▸ Install dependencies")
        );
        assert_eq!(show("::endgroup::"), None);
        assert_eq!(show("::debug::noisy"), None);
        assert_eq!(
            show("::error file=src/app.js,line=10,col=5,title=Lint::Missing semicolon").as_deref(),
            Some("error: src/app.js:10:5: Lint: Missing semicolon")
        );
        assert_eq!(
            show("::warning::Deprecated 50%25").as_deref(),
            Some("warning: Deprecated 50%")
        );
        assert_eq!(
            show("::notice title=a%3Ab%2Cc::done").as_deref(),
            Some("notice: a:b,c: done")
        );
        for plain in [
            "::",
            "::nope",
            ":: spaced::x",
            "a ::error::x",
            "::set-output name=x::1",
        ] {
            assert_eq!(show(plain).as_deref(), Some(plain));
        }
    }

    #[test]
    fn stopped_commands_are_shown_as_printed_until_their_token() {
        let masker = Masker::default();
        let mut commands = Commands::default();
        let mut show = |line| shown(&mut commands, &masker, line);
        assert_eq!(show("::stop-commands::pause-1"), None);
        assert_eq!(
            show("::add-mask::visible").as_deref(),
            Some("::add-mask::visible")
        );
        assert_eq!(
            show("::error::as text").as_deref(),
            Some("::error::as text")
        );
        assert_eq!(show("::pause-1::"), None);
        assert_eq!(show("::error::now").as_deref(), Some("error: now"));
        assert_eq!(show("visible").as_deref(), Some("visible"));
    }
}

//! Argo Rollouts' expr-lang spellings rewritten as CEL, string literals left alone, with where
//! each byte of the CEL came from so that a parse error points into the text as written.

/// CEL text, and for each of its bytes the offset in the source it was translated from.
pub(crate) struct Translated {
    pub(crate) text: String,
    origin: Vec<usize>,
    source_len: usize,
}

impl Translated {
    /// The source offset that the CEL's byte `offset` came from; its end is the source's.
    pub(crate) fn source_offset(&self, offset: usize) -> usize {
        self.origin.get(offset).copied().unwrap_or(self.source_len)
    }

    /// Source text copied as it is.
    fn copy(&mut self, src: &str, start: usize, end: usize) {
        self.text.push_str(&src[start..end]);
        self.origin.extend(start..end);
    }

    /// Text the translation adds, attributed to the source offset `at`.
    fn add(&mut self, text: &str, at: usize) {
        self.text.push_str(text);
        self.origin.extend(std::iter::repeat_n(at, text.len()));
    }
}

/// expr-lang's functions over a list with a predicate, and what CEL calls them.
const PREDICATES: &[(&str, &str)] = &[
    ("all", "all"),
    ("any", "exists"),
    ("none", "exists"),
    ("one", "exists_one"),
    ("filter", "filter"),
    ("map", "map"),
    ("count", "filter"),
];

pub(crate) fn translate(src: &str) -> Translated {
    let mut out = Translated {
        text: String::with_capacity(src.len()),
        origin: Vec::with_capacity(src.len()),
        source_len: src.len(),
    };
    span(src, 0, src.len(), None, 0, &mut out);
    out
}

/// Translates `src[start..end]`; `element` is the name `#` stands for inside a predicate.
fn span(
    src: &str,
    start: usize,
    end: usize,
    element: Option<&str>,
    depth: usize,
    out: &mut Translated,
) {
    let bytes = src.as_bytes();
    let mut copied = start;
    let mut i = start;
    while i < end {
        let b = bytes[i];
        if b == b'"' || b == b'\'' {
            i = string_end(bytes, i, end);
            continue;
        }
        if b == b'#'
            && let Some(name) = element
        {
            out.copy(src, copied, i);
            out.add(name, i);
            i += 1;
            copied = i;
            continue;
        }
        if !(b.is_ascii_alphabetic() || b == b'_') {
            i += 1;
            continue;
        }
        let ident_end = i + bytes[i..end]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let ident = &src[i..ident_end];
        let after_dot = src[start..i].trim_end().ends_with('.');
        let rest = &src[ident_end..end];
        let gap = rest.len() - rest.trim_start().len();
        // Where the parenthesis of a call opens, when the word is a function's name.
        let call = rest[gap..].starts_with('(').then_some(ident_end + gap);
        let word = match ident {
            _ if after_dot => None,
            "and" => Some("&&"),
            "or" => Some("||"),
            "not" => Some("!"),
            "nil" => Some("null"),
            "len" if call.is_some() => Some("size"),
            _ => None,
        };
        if let Some(word) = word {
            out.copy(src, copied, i);
            out.add(word, i);
            copied = ident_end;
        } else if !after_dot
            && let Some(open) = call
            && let Some(&(_, method)) = PREDICATES.iter().find(|(name, _)| *name == ident)
            && let Some(close) = closing(bytes, open, end)
            && let [list, predicate] = arguments(bytes, open + 1, close)[..]
        {
            out.copy(src, copied, i);
            let name = format!("it{depth}");
            match ident {
                "none" => out.add("!((", i),
                "count" => out.add("size((", i),
                _ => out.add("(", i),
            }
            span(src, list.0, list.1, element, depth, out);
            out.add(&format!(").{method}({name}, "), i);
            let (p_start, p_end) = unbraced(src, predicate);
            span(src, p_start, p_end, Some(&name), depth + 1, out);
            out.add(")", close);
            if matches!(ident, "none" | "count") {
                out.add(")", close);
            }
            copied = close + 1;
            i = close + 1;
            continue;
        }
        i = ident_end;
    }
    out.copy(src, copied, end);
}

/// The offset just past the string literal opening at `start` (or `end` when it is not closed).
fn string_end(bytes: &[u8], start: usize, end: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < end {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    end
}

/// The offset of the bracket closing the one at `open`, strings skipped.
fn closing(bytes: &[u8], open: usize, end: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < end {
        match bytes[i] {
            b'"' | b'\'' => {
                i = string_end(bytes, i, end);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The spans of a call's arguments between `start` and `end`, split at top-level commas.
fn arguments(bytes: &[u8], start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut depth = 0usize;
    let mut from = start;
    let mut i = start;
    while i < end {
        match bytes[i] {
            b'"' | b'\'' => {
                i = string_end(bytes, i, end);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                spans.push((from, i));
                from = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    spans.push((from, end));
    spans
}

/// A predicate without the braces expr-lang allows around it: `{# > 0.9}`.
fn unbraced(src: &str, (start, end): (usize, usize)) -> (usize, usize) {
    let text = &src[start..end];
    let lead = text.len() - text.trim_start().len();
    let trimmed = text.trim();
    let (s, e) = (start + lead, start + lead + trimmed.len());
    if trimmed.starts_with('{') && closing(src.as_bytes(), s, e) == Some(e - 1) {
        (s + 1, e - 1)
    } else {
        (start, end)
    }
}

//! Finds where a field path (`cluster.shards`, `variants[1].patch.clients.workload.ratio`,
//! `instances["cache.t4g.small"].vcpu`) is written in a scenario's text, so an invalid
//! value is reported with its line and column as well as its path.
//!
//! This is a small tokenizer over RON's lexical structure (strings, comments, brackets,
//! identifiers), not a second parser: it only has to walk text that already parsed.
//! Invariant: it never panics and never loops without consuming input; any text or path
//! it cannot follow yields `None` (the message then carries the path alone), as does a
//! field the file leaves to its default.

/// 1-based line and column (in characters), as ron counts them.
pub(crate) type Position = (usize, usize);

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Open(char),
    Close(char),
    Comma,
    Colon,
    Ident(String),
    Str(String),
    Other,
}

#[derive(Debug, PartialEq)]
enum Seg {
    Field(String),
    Index(usize),
    Key(String),
}

/// Where the value of `path` starts in `text`, if the text sets it.
pub(crate) fn locate(text: &str, path: &str) -> Option<Position> {
    let segments = parse_path(path)?;
    let tokens = tokenize(text);
    let mut i = 0;
    for seg in &segments {
        i = unwrap_some(&tokens, i);
        i = match seg {
            Seg::Field(name) => find_field(&tokens, i, name)?,
            Seg::Index(n) => find_index(&tokens, i, *n)?,
            Seg::Key(k) => find_key(&tokens, i, k)?,
        };
    }
    tokens.get(i).map(|(_, p)| *p)
}

fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let mut segs = Vec::new();
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => i += 1,
            '[' => {
                if chars.get(i + 1) == Some(&'"') {
                    // ["key"], with \" and \\ escapes as Rust's {:?} writes them.
                    let mut key = String::new();
                    let mut j = i + 2;
                    loop {
                        match chars.get(j)? {
                            '\\' => {
                                key.push(*chars.get(j + 1)?);
                                j += 2;
                            }
                            '"' => break,
                            c => {
                                key.push(*c);
                                j += 1;
                            }
                        }
                    }
                    if chars.get(j + 1) != Some(&']') {
                        return None;
                    }
                    segs.push(Seg::Key(key));
                    i = j + 2;
                } else {
                    let close = chars[i..].iter().position(|c| *c == ']')? + i;
                    let n: String = chars[i + 1..close].iter().collect();
                    segs.push(Seg::Index(n.parse().ok()?));
                    i = close + 1;
                }
            }
            _ => {
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == '.' || *c == '[')
                    .map_or(chars.len(), |p| p + i);
                segs.push(Seg::Field(chars[i..end].iter().collect()));
                i = end;
            }
        }
    }
    (!segs.is_empty()).then_some(segs)
}

fn tokenize(text: &str) -> Vec<(Tok, Position)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut line, mut col) = (1usize, 1usize);
    let mut i = 0;
    // Advances over `n` characters, keeping line and column.
    let advance = |i: &mut usize, n: usize, line: &mut usize, col: &mut usize| {
        for _ in 0..n {
            if *i >= chars.len() {
                return;
            }
            if chars[*i] == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = (line, col);
        if c.is_whitespace() {
            advance(&mut i, 1, &mut line, &mut col);
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                advance(&mut i, 1, &mut line, &mut col);
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            advance(&mut i, 2, &mut line, &mut col);
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                advance(&mut i, 1, &mut line, &mut col);
            }
            advance(&mut i, 2, &mut line, &mut col);
        } else if c == '"' {
            let mut s = String::new();
            advance(&mut i, 1, &mut line, &mut col);
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    advance(&mut i, 1, &mut line, &mut col);
                }
                if let Some(ch) = chars.get(i) {
                    s.push(*ch);
                }
                advance(&mut i, 1, &mut line, &mut col);
            }
            advance(&mut i, 1, &mut line, &mut col);
            out.push((Tok::Str(s), pos));
        } else if "([{".contains(c) {
            out.push((Tok::Open(c), pos));
            advance(&mut i, 1, &mut line, &mut col);
        } else if ")]}".contains(c) {
            out.push((Tok::Close(c), pos));
            advance(&mut i, 1, &mut line, &mut col);
        } else if c == ',' {
            out.push((Tok::Comma, pos));
            advance(&mut i, 1, &mut line, &mut col);
        } else if c == ':' {
            out.push((Tok::Colon, pos));
            advance(&mut i, 1, &mut line, &mut col);
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                s.push(chars[i]);
                advance(&mut i, 1, &mut line, &mut col);
            }
            out.push((Tok::Ident(s), pos));
        } else {
            // Numbers, signs and anything else: one opaque token per run of such characters.
            while i < chars.len() && !chars[i].is_whitespace() && !"()[]{},:\"".contains(chars[i]) {
                advance(&mut i, 1, &mut line, &mut col);
            }
            out.push((Tok::Other, pos));
        }
    }
    out
}

/// Skips an implicit-Some wrapper `Some(` ... so the walk sees the inner value.
fn unwrap_some(tokens: &[(Tok, Position)], i: usize) -> usize {
    match (tokens.get(i), tokens.get(i + 1)) {
        (Some((Tok::Ident(s), _)), Some((Tok::Open('('), _))) if s == "Some" => i + 2,
        _ => i,
    }
}

/// Index just past the value starting at `i`.
fn skip_value(tokens: &[(Tok, Position)], mut i: usize) -> usize {
    if let Some((Tok::Ident(_), _)) = tokens.get(i) {
        // An identifier may name a struct or enum variant followed by its contents.
        i += 1;
        if !matches!(tokens.get(i), Some((Tok::Open(_), _))) {
            return i;
        }
    }
    match tokens.get(i) {
        Some((Tok::Open(_), _)) => {
            let mut depth = 0usize;
            while let Some((t, _)) = tokens.get(i) {
                match t {
                    Tok::Open(_) => depth += 1,
                    Tok::Close(_) => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        Some(_) => i + 1,
        None => i,
    }
}

/// Inside a struct `( field: value, ... )` (optionally named) starting at `i`, the
/// index where `name`'s value starts.
fn find_field(tokens: &[(Tok, Position)], mut i: usize, name: &str) -> Option<usize> {
    if let Some((Tok::Ident(_), _)) = tokens.get(i) {
        i += 1;
    }
    find_entry(
        tokens,
        i,
        '(',
        |t| matches!(t, Tok::Ident(field) if field == name),
    )
}

/// Inside a list `[ a, b, ... ]` starting at `i`, the index where element `n` starts.
fn find_index(tokens: &[(Tok, Position)], mut i: usize, n: usize) -> Option<usize> {
    if tokens.get(i)?.0 != Tok::Open('[') {
        return None;
    }
    i += 1;
    let mut k = 0;
    loop {
        match &tokens.get(i)?.0 {
            Tok::Close(_) => return None,
            Tok::Comma => i += 1,
            _ => {
                if k == n {
                    return Some(i);
                }
                k += 1;
                let next = skip_value(tokens, i);
                if next <= i {
                    return None;
                }
                i = next;
            }
        }
    }
}

/// Inside a map `{ "k": v, ... }` starting at `i`, the index where key `key`'s value
/// starts.
fn find_key(tokens: &[(Tok, Position)], i: usize, key: &str) -> Option<usize> {
    find_entry(tokens, i, '{', |t| matches!(t, Tok::Str(k) if k == key))
}

/// Inside `open` ... of `label: value` entries (a struct's fields or a map's entries)
/// starting at `i`, the index where the value of the entry whose label `is_wanted`
/// starts. Labels of the other kind (a string in a struct, a name in a map) end the
/// search, as a parser would reject them.
fn find_entry(
    tokens: &[(Tok, Position)],
    mut i: usize,
    open: char,
    is_wanted: impl Fn(&Tok) -> bool,
) -> Option<usize> {
    if tokens.get(i)?.0 != Tok::Open(open) {
        return None;
    }
    let label_kind = |t: &Tok| match open {
        '(' => matches!(t, Tok::Ident(_)),
        _ => matches!(t, Tok::Str(_)),
    };
    i += 1;
    loop {
        let t = &tokens.get(i)?.0;
        match t {
            Tok::Close(_) => return None,
            Tok::Comma => i += 1,
            _ if label_kind(t) => {
                if tokens.get(i + 1)?.0 != Tok::Colon {
                    return None;
                }
                if is_wanted(t) {
                    return Some(i + 2);
                }
                let next = skip_value(tokens, i + 2);
                if next <= i {
                    return None;
                }
                i = next;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"// header "with quotes" and (parens)
(
    name: "x, (y)",
    cluster: (instance: "a", shards: 0),
    /* block: ( */ instances: {
        "cache.t4g.small": (vcpu: 0),
    },
    variants: [
        (name: "a", patch: ()),
        (name: "b", patch: (clients: Some((workload: (ratio: "0:0"))))),
    ],
)"#;

    #[test]
    fn finds_nested_fields_elements_and_keys() {
        assert_eq!(locate(TEXT, "cluster.shards"), Some((4, 38)));
        assert_eq!(locate(TEXT, "cluster.instance"), Some((4, 25)));
        assert_eq!(
            locate(TEXT, "instances[\"cache.t4g.small\"].vcpu"),
            Some((6, 35))
        );
        assert_eq!(
            locate(TEXT, "variants[1].patch.clients.workload.ratio"),
            Some((10, 62))
        );
        assert_eq!(locate(TEXT, "variants[1].name"), Some((10, 16)));
        assert_eq!(locate(TEXT, "name"), Some((3, 11)));
    }

    proptest::proptest! {
        /// Invariant: any text and any path give a position or `None`, never a panic.
        #[test]
        fn never_panics(text in "[a-z(){}\\[\\]:,\" /*\n0-9.]{0,200}", path in "[a-z.\\[\\]\"0-9]{0,30}") {
            let _ = locate(&text, &path);
        }
    }

    #[test]
    fn absent_fields_and_broken_paths_give_none() {
        assert_eq!(locate(TEXT, "cluster.mode"), None);
        assert_eq!(locate(TEXT, "variants[7].name"), None);
        assert_eq!(locate(TEXT, "instances[\"nope\"].vcpu"), None);
        assert_eq!(locate(TEXT, ""), None);
        assert_eq!(locate("", "a.b"), None);
        assert_eq!(locate("(a: ", "a"), None);
        assert_eq!(locate(TEXT, "variants[x]"), None);
    }
}

//! The shape of the code, checked from its source files (no build, no cargo): the two faces do
//! not import each other, the module graphs of the host and of the firmware have no cycle,
//! and every public module of a crate is named in `docs/architecture.md`.
//!
//! The source is read with a small lexer (comments, strings and character literals skipped)
//! that finds `mod` declarations, `use` trees and the `crate::`/`super::`/`self::` paths in
//! code; re-exports (`pub use`) are followed to the module that defines the item. The last
//! tests below check the checker itself on made-up sources.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---- the checks ----------------------------------------------------------------------------

/// The CLI and the TUI are two faces over the same layers: neither imports the other, except
/// that the CLI starts the TUI and reports its failure (`crate::tui::run`, `TuiError`).
#[test]
fn the_tui_and_the_cli_do_not_import_each_other() {
    let host = Crate::load(&repo().join("src"), "lib.rs");
    let problems = face_violations(&host);
    assert!(
        problems.is_empty(),
        "the faces import each other ({} references):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// No import cycle among the modules of the host (`src/`) or of the firmware (`firmware/src/`,
/// and the simulator's crate when it has one): among the crate root's modules, and among the
/// children of each module. A module and its own parent or child may use each other.
#[test]
fn the_module_graphs_have_no_cycle() {
    let mut crates =
        vec![("src", repo().join("src")), ("firmware/src", repo().join("firmware/src"))];
    let sim = repo().join("firmware/boards/sim/src");
    if sim.join("lib.rs").exists() {
        crates.push(("firmware/boards/sim/src", sim));
    }
    let mut report = String::new();
    for (name, dir) in crates {
        let krate = Crate::load(&dir, "lib.rs");
        for cycle in krate.cycles() {
            let _ = writeln!(report, "{name}: {cycle}");
        }
    }
    assert!(report.is_empty(), "import cycles:\n{report}");
}

/// `docs/architecture.md` names every public module of every crate (in backticks: `lock`,
/// `src/cli/`, `latchkey_firmware::sim`, ...), so a newcomer finds each one described.
#[test]
fn every_public_module_is_named_in_the_architecture_doc() {
    let doc = std::fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let named = backticked_words(&doc);
    let mut missing = Vec::new();
    for lib in library_roots() {
        let text = std::fs::read_to_string(&lib).unwrap();
        for module in public_modules(&text) {
            if !named.contains(&module) {
                let shown = lib.strip_prefix(repo()).unwrap_or(&lib).display().to_string();
                missing.push(format!("`{module}` (pub mod in {shown})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/architecture.md does not name these public modules: {}",
        missing.join(", ")
    );
}

/// Every `src/lib.rs` of the workspace: the host's, each member's, and the simulator's crate.
fn library_roots() -> Vec<PathBuf> {
    let mut roots = vec![repo().join("src/lib.rs")];
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let members = manifest
        .split_once("members")
        .and_then(|(_, rest)| rest.split_once('['))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap_or_default();
    for member in members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()) {
        roots.push(repo().join(member).join("src/lib.rs"));
    }
    roots.push(repo().join("firmware/boards/sim/src/lib.rs"));
    roots.sort();
    roots.dedup();
    roots.retain(|p| p.exists());
    roots
}

/// The names `pub mod NAME` declares in a crate root (not `pub(crate) mod`).
fn public_modules(source: &str) -> Vec<String> {
    let tokens = lex(source);
    let mut modules = Vec::new();
    for w in tokens.windows(3) {
        if let [Tok::Ident(pub_), Tok::Ident(mod_), Tok::Ident(name)] =
            [&w[0].tok, &w[1].tok, &w[2].tok]
            && pub_ == "pub"
            && mod_ == "mod"
        {
            modules.push(name.clone());
        }
    }
    modules
}

/// Every identifier-like word inside a backtick span of a Markdown text.
fn backticked_words(doc: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for span in doc.split('`').skip(1).step_by(2) {
        for word in span.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')) {
            if !word.is_empty() {
                words.insert(word.to_owned());
                // `latchkey-sim` names the crate `latchkey_sim`.
                words.insert(word.replace('-', "_"));
            }
        }
    }
    words
}

/// References from `src/tui` into `crate::cli`, and from `src/cli` into `crate::tui` other
/// than `crate::tui::run` and its error type `crate::tui::TuiError`.
fn face_violations(host: &Crate) -> Vec<String> {
    let mut problems = Vec::new();
    for r in host.references() {
        let from = r.from.first().map(String::as_str);
        let to = r.target.first().map(String::as_str);
        let path_to = r.path.first().map(String::as_str);
        let into = |face: &str| to == Some(face) || path_to == Some(face);
        let bad = match from {
            Some("tui") => into("cli"),
            // `use crate::tui;` alone imports the module; its uses are checked as `tui::…`.
            Some("cli") => {
                // Starting the dashboard and reporting how it failed: `tui::run` and its error.
                into("tui")
                    && r.path != ["tui", "run"]
                    && r.path.get(..2) != Some(&["tui".to_string(), "TuiError".to_string()][..])
                    && !(r.is_use && r.path == ["tui"])
            }
            _ => false,
        };
        if bad {
            problems.push(format!("  {}:{}: {}", r.file, r.line, r.shown()));
        }
    }
    problems
}

// ---- a crate's modules and references ------------------------------------------------------

/// A path as written in a scope: a `use` leaf (with its alias) or a path in code.
#[derive(Debug, Clone)]
struct RawRef {
    /// The module the path is written in, inline modules included.
    scope: Vec<String>,
    segments: Vec<String>,
    alias: Option<String>,
    is_use: bool,
    is_pub_use: bool,
    file: String,
    line: usize,
}

/// A reference resolved: from which file module, to which path, landing in which file module.
#[derive(Debug, Clone)]
struct Reference {
    from: Vec<String>,
    /// The absolute path referred to (from the crate root).
    path: Vec<String>,
    /// The file module that defines what it refers to (re-exports followed).
    target: Vec<String>,
    is_use: bool,
    file: String,
    line: usize,
}

impl Reference {
    fn shown(&self) -> String {
        let path = format!("crate::{}", self.path.join("::"));
        let target = format!("crate::{}", self.target.join("::"));
        if !self.path.starts_with(&self.target) {
            format!("{path} (defined in {target})")
        } else {
            path
        }
    }
}

struct Crate {
    /// Modules that are files (the crate root is `[]`).
    file_modules: BTreeSet<Vec<String>>,
    /// Inline `mod x { … }` modules.
    inline_modules: BTreeSet<Vec<String>>,
    /// Items defined in each module (inline modules included).
    items: BTreeSet<(Vec<String>, String)>,
    refs: Vec<RawRef>,
}

impl Crate {
    /// Reads the crate rooted at `dir/root` (e.g. `src/lib.rs`) and every module file it
    /// declares.
    fn load(dir: &Path, root: &str) -> Crate {
        let shown = dir.strip_prefix(repo()).unwrap_or(dir);
        Self::build(root, |relative| std::fs::read_to_string(dir.join(relative)).ok(), shown)
    }

    /// The crate from made-up files: `files` maps paths such as `a/mod.rs` to their text.
    fn from_files(files: &[(&str, &str)]) -> Crate {
        let map: BTreeMap<&str, &str> = files.iter().copied().collect();
        Self::build("lib.rs", |p| map.get(p).map(|s| (*s).to_owned()), Path::new(""))
    }

    fn build(root: &str, read: impl Fn(&str) -> Option<String>, shown_dir: &Path) -> Crate {
        let mut krate = Crate {
            file_modules: BTreeSet::new(),
            inline_modules: BTreeSet::new(),
            items: BTreeSet::new(),
            refs: Vec::new(),
        };
        // (module path, file, directory its children live in)
        let mut queue = VecDeque::from([(Vec::<String>::new(), root.to_owned(), String::new())]);
        while let Some((module, file, child_dir)) = queue.pop_front() {
            let text = read(&file).unwrap_or_else(|| {
                panic!("cannot read {}", shown_dir.join(&file).display());
            });
            let shown = shown_dir.join(&file).display().to_string();
            let parsed = parse_file(&lex(&text), &module, &shown);
            krate.file_modules.insert(module.clone());
            for child in parsed.child_files {
                let flat = format!("{child_dir}{child}.rs");
                let nested = format!("{child_dir}{child}/mod.rs");
                let mut path = module.clone();
                path.push(child.clone());
                if read(&flat).is_some() {
                    queue.push_back((path, flat, format!("{child_dir}{child}/")));
                } else if read(&nested).is_some() {
                    queue.push_back((path, nested, format!("{child_dir}{child}/")));
                }
                // Neither: a module from elsewhere (`#[path]`, a build script); not followed.
            }
            krate.inline_modules.extend(parsed.inline_modules);
            krate.items.extend(parsed.items);
            krate.refs.extend(parsed.refs);
        }
        krate
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.file_modules.contains(path) || self.inline_modules.contains(path)
    }

    /// The file module a module path belongs to (an inline module belongs to its file).
    fn file_module_of(&self, path: &[String]) -> Vec<String> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| self.file_modules.contains(p))
            .unwrap_or_default()
    }

    /// Resolves `segments` written in `scope` to an absolute path, if it names something in
    /// this crate. `aliases` are the names `use` brought into scope.
    fn resolve(
        &self,
        scope: &[String],
        segments: &[String],
        aliases: &BTreeMap<(Vec<String>, String), Vec<String>>,
    ) -> Option<Vec<String>> {
        let first = segments.first()?;
        let mut path = match first.as_str() {
            "crate" => segments[1..].to_vec(),
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                let base = scope.get(..scope.len().checked_sub(ups)?)?;
                [base, &segments[ups..]].concat()
            }
            "self" => [scope, &segments[1..]].concat(),
            name => {
                let mut child = scope.to_vec();
                child.push(name.to_owned());
                if self.is_module(&child) || self.items.contains(&(scope.to_vec(), name.to_owned()))
                {
                    [scope, segments].concat()
                } else {
                    let target = aliases.get(&(scope.to_vec(), name.to_owned()))?;
                    [target.as_slice(), &segments[1..]].concat()
                }
            }
        };
        if path.last().is_some_and(|s| s == "self") {
            path.pop();
        }
        Some(path)
    }

    /// Every reference in the crate, resolved, re-exports followed.
    fn references(&self) -> Vec<Reference> {
        // The names each `use` brings into its scope, resolved in two passes (a `use` may
        // build on another's name).
        let mut aliases: BTreeMap<(Vec<String>, String), Vec<String>> = BTreeMap::new();
        let mut reexports: BTreeMap<(Vec<String>, String), Vec<String>> = BTreeMap::new();
        let mut globs: BTreeMap<Vec<String>, Vec<Vec<String>>> = BTreeMap::new();
        for _ in 0..2 {
            for r in self.refs.iter().filter(|r| r.is_use) {
                let Some(path) = self.resolve(&r.scope, &r.segments, &aliases) else { continue };
                if path.last().is_some_and(|s| s == "*") {
                    if r.is_pub_use {
                        let source = path[..path.len() - 1].to_vec();
                        let list = globs.entry(r.scope.clone()).or_default();
                        if !list.contains(&source) {
                            list.push(source);
                        }
                    }
                    continue;
                }
                let Some(name) = r.alias.clone().or_else(|| path.last().cloned()) else {
                    continue;
                };
                if r.is_pub_use {
                    reexports.insert((r.scope.clone(), name.clone()), path.clone());
                }
                aliases.insert((r.scope.clone(), name), path);
            }
        }
        let mut out = Vec::new();
        for r in &self.refs {
            let Some(path) = self.resolve(&r.scope, &r.segments, &aliases) else { continue };
            let path: Vec<String> = path.into_iter().filter(|s| s != "*").collect();
            let target = self.target_of(&path, &reexports, &globs, 0);
            out.push(Reference {
                from: self.file_module_of(&r.scope),
                path,
                target,
                is_use: r.is_use,
                file: r.file.clone(),
                line: r.line,
            });
        }
        out
    }

    /// The file module that defines what `path` names, following re-exports.
    fn target_of(
        &self,
        path: &[String],
        reexports: &BTreeMap<(Vec<String>, String), Vec<String>>,
        globs: &BTreeMap<Vec<String>, Vec<Vec<String>>>,
        depth: usize,
    ) -> Vec<String> {
        let mut module = Vec::new();
        let mut rest = path;
        while let Some((first, tail)) = rest.split_first() {
            let mut next = module.clone();
            next.push(first.clone());
            if !self.is_module(&next) {
                break;
            }
            module = next;
            rest = tail;
        }
        if let (Some((name, tail)), true) = (rest.split_first(), depth < 8) {
            let key = (module.clone(), name.clone());
            if !self.items.contains(&key) {
                if let Some(target) = reexports.get(&key) {
                    let full = [target.as_slice(), tail].concat();
                    return self.target_of(&full, reexports, globs, depth + 1);
                }
                for source in globs.get(&module).into_iter().flatten() {
                    let named = (source.clone(), name.clone());
                    if self.items.contains(&named) || reexports.contains_key(&named) {
                        let full = [source.as_slice(), rest].concat();
                        return self.target_of(&full, reexports, globs, depth + 1);
                    }
                }
            }
        }
        self.file_module_of(&module)
    }

    /// The import cycles: among the crate root's modules, and among the children of every
    /// module, each module standing for itself and everything under it. An edge between a
    /// module and its own ancestor does not count (a parent and its children are one unit).
    fn cycles(&self) -> Vec<String> {
        // level (the common parent) -> (from child, to child) -> first evidence
        type Edges = BTreeMap<(String, String), String>;
        let mut levels: BTreeMap<Vec<String>, Edges> = BTreeMap::new();
        for r in self.references() {
            let (a, b) = (&r.from, &r.target);
            let common = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
            if common == a.len() || common == b.len() {
                continue; // the same module, or a module and its ancestor
            }
            let evidence = format!("{}:{} {}", r.file, r.line, r.shown());
            levels
                .entry(a[..common].to_vec())
                .or_default()
                .entry((a[common].clone(), b[common].clone()))
                .or_insert(evidence);
        }
        let mut found = Vec::new();
        for (parent, edges) in &levels {
            let prefix = if parent.is_empty() { String::new() } else { parent.join("::") + "::" };
            for component in strongly_connected(edges) {
                let cycle = shortest_cycle(edges, &component);
                let mut text = format!(
                    "{} ({})",
                    component.iter().map(|m| format!("{prefix}{m}")).collect::<Vec<_>>().join(", "),
                    if parent.is_empty() {
                        "crate root's modules".to_owned()
                    } else {
                        format!("inside {}", parent.join("::"))
                    }
                );
                let _ =
                    write!(text, "\n  a cycle: {prefix}{}", cycle.join(&format!(" -> {prefix}")));
                // Every import inside the component, each with the first place it is made.
                for ((from, to), evidence) in edges {
                    if component.contains(from) && component.contains(to) {
                        let _ = write!(text, "\n    {prefix}{from} -> {prefix}{to}: {evidence}");
                    }
                }
                found.push(text);
            }
        }
        found
    }
}

/// The strongly connected components with more than one node (Tarjan's algorithm).
fn strongly_connected(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let nodes: Vec<&String> =
        edges.keys().flat_map(|(a, b)| [a, b]).collect::<BTreeSet<_>>().into_iter().collect();
    let number = |n: &String| nodes.iter().position(|m| *m == n).unwrap_or(usize::MAX);
    let next: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| edges.keys().filter(|(a, _)| a == *n).map(|(_, b)| number(b)).collect())
        .collect();
    struct Tarjan<'a> {
        next: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        on_stack: Vec<bool>,
        counter: usize,
        out: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, n: usize) {
            self.index[n] = Some(self.counter);
            self.low[n] = self.counter;
            self.counter += 1;
            self.stack.push(n);
            self.on_stack[n] = true;
            for &m in &self.next[n] {
                match self.index[m] {
                    None => {
                        self.visit(m);
                        self.low[n] = self.low[n].min(self.low[m]);
                    }
                    Some(index) if self.on_stack[m] => self.low[n] = self.low[n].min(index),
                    Some(_) => {}
                }
            }
            if Some(self.low[n]) == self.index[n] {
                let mut component = Vec::new();
                while let Some(m) = self.stack.pop() {
                    self.on_stack[m] = false;
                    component.push(m);
                    if m == n {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.out.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        next: &next,
        index: vec![None; nodes.len()],
        low: vec![0; nodes.len()],
        stack: Vec::new(),
        on_stack: vec![false; nodes.len()],
        counter: 0,
        out: Vec::new(),
    };
    for n in 0..nodes.len() {
        if tarjan.index[n].is_none() {
            tarjan.visit(n);
        }
    }
    let mut components: Vec<Vec<String>> = tarjan
        .out
        .into_iter()
        .map(|c| {
            let mut names: Vec<String> = c.into_iter().map(|n| nodes[n].clone()).collect();
            names.sort();
            names
        })
        .collect();
    components.sort();
    components
}

/// A shortest cycle through the component's first module, inside the component: the modules
/// in order, the first repeated at the end.
fn shortest_cycle(edges: &BTreeMap<(String, String), String>, component: &[String]) -> Vec<String> {
    let start = &component[0];
    let inside: BTreeSet<&String> = component.iter().collect();
    let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for (_, m) in edges.keys().filter(|(a, b)| a == n && inside.contains(b)) {
            if m == start {
                let mut path = vec![start.clone()];
                let mut at = n;
                while at != start {
                    path.push(at.clone());
                    at = came_from[at];
                }
                path.push(start.clone());
                path.reverse();
                return path;
            }
            if !came_from.contains_key(m) {
                came_from.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    component.to_vec()
}

// ---- lexing and parsing --------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

/// Identifiers, `::` and punctuation, with their lines; comments, string, byte and
/// character literals, numbers and lifetimes dropped.
fn lex(source: &str) -> Vec<Token> {
    let c: Vec<char> = source.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    // Skips a quoted literal whose opening quote is at `i`; returns the index after it.
    let skip_quoted = |mut i: usize, quote: char, line: &mut usize| {
        i += 1;
        while i < c.len() && c[i] != quote {
            if c[i] == '\\' {
                i += 1;
            }
            if at(i) == '\n' {
                *line += 1;
            }
            i += 1;
        }
        i + 1
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= c.len() {
                    break;
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_quoted(i, '"', &mut line);
        } else if ch == '\'' {
            if at(i + 1) == '\\' || at(i + 2) == '\'' {
                i = skip_quoted(i, '\'', &mut line); // a character
            } else {
                i += 1; // a lifetime or a label: drop its name
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw_string = matches!(word.as_str(), "r" | "br" | "cr")
                && (at(i) == '"' || (at(i) == '#' && (at(i + 1) == '"' || at(i + 1) == '#')));
            if raw_string {
                let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
                i += hashes + 1;
                loop {
                    if i >= c.len() {
                        break;
                    }
                    if c[i] == '"'
                        && c[i + 1..].iter().take(hashes).filter(|&&h| h == '#').count() == hashes
                    {
                        i += 1 + hashes;
                        break;
                    }
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                i = skip_quoted(i, '"', &mut line);
            } else if word == "b" && at(i) == '\'' {
                i = skip_quoted(i, '\'', &mut line);
            } else if word == "r" && at(i) == '#' {
                i += 1; // a raw identifier: the name follows
            } else {
                out.push(Token { tok: Tok::Ident(word), line });
            }
        } else if ch.is_ascii_digit() {
            while at(i).is_alphanumeric()
                || at(i) == '_'
                || (at(i) == '.' && at(i + 1).is_ascii_digit())
            {
                i += 1;
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Token { tok: Tok::PathSep, line });
            i += 2;
        } else {
            out.push(Token { tok: Tok::Punct(ch), line });
            i += 1;
        }
    }
    out
}

struct ParsedFile {
    /// `mod x;` declared in the file itself (not in an inline module).
    child_files: Vec<String>,
    inline_modules: Vec<Vec<String>>,
    items: Vec<(Vec<String>, String)>,
    refs: Vec<RawRef>,
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is(t: Option<&Token>, tok: &Tok) -> bool {
    t.is_some_and(|t| &t.tok == tok)
}

const ITEM_KEYWORDS: [&str; 8] =
    ["fn", "struct", "enum", "trait", "type", "const", "static", "union"];
const KEYWORDS: [&str; 12] =
    ["fn", "unsafe", "async", "extern", "mut", "impl", "for", "where", "dyn", "move", "ref", "_"];

fn parse_file(tokens: &[Token], module: &[String], file: &str) -> ParsedFile {
    let mut parsed = ParsedFile {
        child_files: Vec::new(),
        inline_modules: Vec::new(),
        items: Vec::new(),
        refs: Vec::new(),
    };
    let mut depth = 0usize;
    // Inline modules open around the current token: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let scope = |inline: &[(String, usize)]| {
        let mut s = module.to_vec();
        s.extend(inline.iter().map(|(n, _)| n.clone()));
        s
    };
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let prev = i.checked_sub(1).map(|p| &tokens[p]);
        match &t.tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| depth < *d) {
                    inline.pop();
                }
            }
            Tok::Ident(word) if word == "mod" => {
                if let Some(name) = ident(tokens.get(i + 1)) {
                    if is(tokens.get(i + 2), &Tok::Punct(';')) && inline.is_empty() {
                        parsed.child_files.push(name.to_owned());
                    } else if is(tokens.get(i + 2), &Tok::Punct('{')) {
                        inline.push((name.to_owned(), depth + 1));
                        parsed.inline_modules.push(scope(&inline));
                    }
                    i += 2;
                    continue;
                }
            }
            Tok::Ident(word) if word == "use" => {
                let is_pub_use = ident(prev) == Some("pub")
                    || (is(prev, &Tok::Punct(')'))
                        && tokens[i.saturating_sub(5)..i]
                            .iter()
                            .any(|t| t.tok == Tok::Ident("pub".into())));
                let mut leaves = Vec::new();
                let end = parse_use_tree(tokens, i + 1, Vec::new(), &mut leaves);
                for (segments, alias) in leaves {
                    parsed.refs.push(RawRef {
                        scope: scope(&inline),
                        segments,
                        alias,
                        is_use: true,
                        is_pub_use,
                        file: file.to_owned(),
                        line: t.line,
                    });
                }
                i = end;
                continue;
            }
            Tok::Ident(word) if ITEM_KEYWORDS.contains(&word.as_str()) || word == "macro_rules" => {
                let name_at = if word == "macro_rules" { i + 2 } else { i + 1 };
                if let Some(name) = ident(tokens.get(name_at))
                    && !KEYWORDS.contains(&name)
                {
                    parsed.items.push((scope(&inline), name.to_owned()));
                }
            }
            Tok::Ident(first)
                if is(tokens.get(i + 1), &Tok::PathSep) && !is(prev, &Tok::PathSep) =>
            {
                // A path in code: `crate::a::b`, `super::x`, `self::y`, or `name::x` (resolved
                // later only if `name` is a module or a `use`d module).
                let mut segments = vec![first.clone()];
                let mut j = i + 1;
                while is(tokens.get(j), &Tok::PathSep) {
                    match ident(tokens.get(j + 1)) {
                        Some(next) => segments.push(next.to_owned()),
                        None => break,
                    }
                    j += 2;
                }
                parsed.refs.push(RawRef {
                    scope: scope(&inline),
                    segments,
                    alias: None,
                    is_use: false,
                    is_pub_use: false,
                    file: file.to_owned(),
                    line: t.line,
                });
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parsed
}

/// Parses a `use` tree from `i` with `prefix`; pushes each leaf (path, alias); returns the
/// index after the tree (after the `;` at the top level).
fn parse_use_tree(
    tokens: &[Token],
    mut i: usize,
    prefix: Vec<String>,
    leaves: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let top = prefix.is_empty();
    let mut segments = prefix;
    loop {
        match tokens.get(i).map(|t| &t.tok) {
            Some(Tok::PathSep) => i += 1,
            Some(Tok::Ident(w)) if w == "as" => {
                let alias = ident(tokens.get(i + 1)).map(str::to_owned);
                leaves.push((segments, alias));
                i += 2;
                break;
            }
            Some(Tok::Ident(w)) => {
                segments.push(w.clone());
                i += 1;
            }
            Some(Tok::Punct('*')) => {
                segments.push("*".to_owned());
                leaves.push((segments, None));
                i += 1;
                break;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match tokens.get(i).map(|t| &t.tok) {
                        Some(Tok::Punct('}')) => {
                            i += 1;
                            break;
                        }
                        Some(Tok::Punct(',')) => i += 1,
                        None => break,
                        Some(_) => i = parse_use_tree(tokens, i, segments.clone(), leaves),
                    }
                }
                break;
            }
            _ => {
                if !segments.is_empty() {
                    leaves.push((segments, None));
                }
                break;
            }
        }
    }
    if top {
        while i < tokens.len() && tokens[i].tok != Tok::Punct(';') {
            i += 1;
        }
        i += 1;
    }
    i
}

// ---- the checker, checked ------------------------------------------------------------------

fn cycles_of(files: &[(&str, &str)]) -> Vec<String> {
    Crate::from_files(files).cycles()
}

#[test]
fn checker_finds_a_cycle_between_siblings_and_names_where() {
    let cycles = cycles_of(&[
        ("lib.rs", "pub mod a;\npub mod b;\nmod c;\n"),
        ("a.rs", "use crate::b::Thing;\n// crate::c::Other in a comment\nfn f() {}\n"),
        ("b.rs", "pub struct Thing;\nfn g() {\n    super::a::f();\n}\n"),
        ("c.rs", "use crate::a::f;\n"),
    ]);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].starts_with("a, b (crate root's modules)"), "{}", cycles[0]);
    assert!(cycles[0].contains("a.rs:1 crate::b::Thing"), "{}", cycles[0]);
    assert!(cycles[0].contains("b.rs:3 crate::a::f"), "{}", cycles[0]);
}

#[test]
fn checker_allows_a_parent_and_its_children_and_ignores_strings() {
    let cycles = cycles_of(&[
        ("lib.rs", "pub mod lock;\npub mod link;\npub use lock::Lock;\n"),
        (
            "lock/mod.rs",
            "mod access;\nuse access::State;\npub struct Lock;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::lock::Lock;\n}\n",
        ),
        (
            "lock/access.rs",
            "use super::Lock;\npub struct State;\nfn f<'a>(x: &'a str) -> char { let _ = \"crate::link::X\"; let _ = r#\"crate::link\"#; 'x' }\n",
        ),
        ("link.rs", "use crate::Lock;\npub struct X;\n"),
    ]);
    assert!(cycles.is_empty(), "{cycles:?}");
}

#[test]
fn checker_follows_reexports_and_finds_cycles_inside_a_module() {
    let cycles = cycles_of(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub use a::A;\n"),
        ("a.rs", "pub struct A;\nfn f() -> crate::b::B { todo!() }\n"),
        ("b.rs", "use crate::A;\npub struct B;\n"),
    ]);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].contains("b.rs:1 crate::A (defined in crate::a)"), "{}", cycles[0]);

    let cycles = cycles_of(&[
        ("lib.rs", "pub mod cli;\n"),
        (
            "cli/mod.rs",
            "pub mod commands;\npub mod users;\npub use commands::Connection;\npub struct Context;\n",
        ),
        (
            "cli/commands.rs",
            "use super::Context;\npub struct Connection;\nfn d() { super::users::add(); }\n",
        ),
        ("cli/users.rs", "use crate::cli::Connection;\npub fn add() {}\n"),
    ]);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].starts_with("cli::commands, cli::users (inside cli)"), "{}", cycles[0]);
}

#[test]
fn checker_lets_the_cli_start_the_tui_and_nothing_more() {
    let host = Crate::from_files(&[
        ("lib.rs", "pub mod cli;\npub mod tui;\npub mod session;\n"),
        ("session.rs", "pub struct Connection;\n"),
        (
            "cli/mod.rs",
            "use crate::tui;\nuse crate::session::Connection;\nfn run() { tui::run(); crate::tui::run(); }\n",
        ),
        ("tui/mod.rs", "pub mod view;\npub fn run() {}\npub struct App;\n"),
        ("tui/view.rs", "use crate::session::Connection;\n"),
    ]);
    assert!(face_violations(&host).is_empty(), "{:?}", face_violations(&host));

    let host = Crate::from_files(&[
        ("lib.rs", "pub mod cli;\npub mod tui;\n"),
        ("cli/mod.rs", "pub struct Context;\nfn f() { let _ = super::tui::App; }\n"),
        ("tui/mod.rs", "pub mod view;\npub fn run() {}\npub struct App;\n"),
        ("tui/view.rs", "use crate::cli::Context;\n"),
    ]);
    let problems = face_violations(&host);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("cli/mod.rs:2: crate::tui::App"), "{problems:?}");
    assert!(problems[1].contains("tui/view.rs:1: crate::cli::Context"), "{problems:?}");
}

#[test]
fn checker_reads_pub_mods_and_backticked_names() {
    let modules = public_modules(
        "pub mod a;\npub(crate) mod b;\nmod c;\n#[cfg(feature = \"std\")]\npub mod sim;\n",
    );
    assert_eq!(modules, ["a", "sim"]);
    let named = backticked_words(
        "the `lock` and `src/cli/users.rs` and `latchkey_firmware::sim::X`; not log",
    );
    for word in ["lock", "cli", "users", "sim"] {
        assert!(named.contains(word), "{word}");
    }
    assert!(!named.contains("log"));
}

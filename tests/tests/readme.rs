//! The README and the docs keep working: every relative link leads to a file (and heading) that
//! exists, the walkthrough is the one `cargo run -p stack` prints, the two set-up commands are
//! there, every `-p <package>` is a workspace package, and each guarantee names a test that
//! exists. No broker or database needed.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// The addresses the README's walkthrough uses; the stack prints the same text with its own.
const MEMBER_URL: &str = "http://127.0.0.1:8081";
const RESERVATION_URL: &str = "http://127.0.0.1:8082";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// A path as the workspace sees it, for messages.
fn relative(path: &Path) -> String {
    let root = workspace();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// README.md, bench/README.md and every Markdown file under docs/.
fn documents() -> Vec<PathBuf> {
    let root = workspace();
    let mut documents = vec![root.join("README.md"), root.join("bench/README.md")];
    documents.extend(files_under(&root.join("docs"), "md"));
    documents
}

/// Files ending in `.{extension}` under `directory`, skipping hidden folders and `target`.
fn files_under(directory: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![directory.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|found| found == extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Each line outside fenced code blocks, with inline code spans removed, and its number.
fn prose(markdown: &str) -> Vec<(usize, String)> {
    let mut in_code = false;
    let mut lines = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code {
            let text: String = line.split('`').step_by(2).collect();
            lines.push((index + 1, text));
        }
    }
    lines
}

/// The targets of `[text](target)` and `![alt](target)` that are not web addresses.
fn relative_links(line: &str) -> Vec<String> {
    line.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|target| target.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|target| {
            !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:")
        })
        .collect()
}

/// GitHub's anchor for a heading: lower case, spaces as dashes, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|character| match character {
            ' ' => Some('-'),
            '-' | '_' => Some(character),
            _ if character.is_alphanumeric() => Some(character),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut anchors = BTreeSet::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        let heading = line.trim_start_matches('#');
        if !in_code && line.starts_with('#') && heading.starts_with(' ') {
            anchors.insert(anchor(heading));
        }
    }
    anchors
}

/// The section that starts with the `## {heading}…` line, up to the next `## ` heading.
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let start = markdown
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("README.md has no section \"## {heading}\""));
    let rest = &markdown[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |end| end + 3);
    &rest[..end]
}

/// The contents of the fenced code blocks in `markdown`.
fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(lines) => blocks.push(lines.join("\n")),
                None => current = Some(Vec::new()),
            }
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    blocks
}

fn readme() -> String {
    read(&workspace().join("README.md"))
}

#[test]
fn every_relative_link_in_the_docs_leads_to_a_file_that_exists() {
    let mut broken = Vec::new();
    for document in documents() {
        let markdown = read(&document);
        let shown = relative(&document);
        for (line, text) in prose(&markdown) {
            for target in relative_links(&text) {
                let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
                let file = if path.is_empty() {
                    document.clone()
                } else {
                    document
                        .parent()
                        .expect("a document is in a folder")
                        .join(path)
                };
                if !file.exists() {
                    broken.push(format!("{shown}:{line}: {target} (no such file)"));
                } else if !fragment.is_empty()
                    && file.extension().is_some_and(|extension| extension == "md")
                    && !anchors(&read(&file)).contains(fragment)
                {
                    broken.push(format!("{shown}:{line}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken links:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn the_readme_walkthrough_is_the_one_the_stack_prints() {
    let printed = stack::walkthrough::walkthrough(MEMBER_URL, RESERVATION_URL);
    let commands: Vec<&str> = printed
        .lines()
        .skip_while(|line| !line.starts_with("Walkthrough"))
        .skip(1)
        .take_while(|line| !line.starts_with("Health:"))
        .map(|line| line.strip_prefix("  ").unwrap_or(line))
        .collect();
    let printed_commands = commands.join("\n").trim().to_owned();

    let readme = readme();
    let blocks = code_blocks(section(&readme, "Walkthrough"));
    let documented = blocks
        .first()
        .expect("the README's walkthrough has a shell block")
        .trim();

    let mut documented_lines = documented.lines();
    let mut printed_lines = printed_commands.lines();
    for line in 1.. {
        match (documented_lines.next(), printed_lines.next()) {
            (None, None) => break,
            (documented, printed) if documented == printed => {}
            (documented, printed) => panic!(
                "the README's walkthrough differs from the one `cargo run -p stack` prints \
                 (infra/stack/src/walkthrough.rs) at its line {line}; change both:\n  \
                 README: {documented:?}\n  stack:  {printed:?}"
            ),
        }
    }
}

#[test]
fn the_readme_gives_the_two_set_up_commands() {
    let readme = readme();
    let blocks = code_blocks(section(&readme, "Set-up"));
    let commands: Vec<&str> = blocks
        .first()
        .expect("the set-up section has a shell block")
        .lines()
        .filter_map(|line| line.split('#').next())
        .map(str::trim)
        .filter(|command| !command.is_empty())
        .collect();
    assert_eq!(
        commands,
        ["cargo run -p stack", "cargo test --workspace"],
        "the README's set-up is these two commands"
    );
}

/// Package names of the workspace's members, as listed in the root Cargo.toml.
fn workspace_packages() -> BTreeSet<String> {
    let root = workspace();
    let manifest = read(&root.join("Cargo.toml"));
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("the root Cargo.toml lists its members");
    members
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter_map(|entry| entry.strip_prefix('"')?.split('"').next())
        .map(|member| {
            let manifest = read(&root.join(member).join("Cargo.toml"));
            manifest
                .lines()
                .find_map(|line| line.strip_prefix("name = \""))
                .and_then(|name| name.split('"').next())
                .unwrap_or_else(|| panic!("{member}/Cargo.toml has no package name"))
                .to_owned()
        })
        .collect()
}

#[test]
fn every_package_the_docs_run_is_in_the_workspace() {
    let packages = workspace_packages();
    let mut unknown = Vec::new();
    for document in documents() {
        let shown = relative(&document);
        for (index, line) in read(&document).lines().enumerate() {
            for rest in line.split(" -p ").skip(1) {
                let package: String = rest
                    .chars()
                    .take_while(|character| {
                        character.is_alphanumeric() || "-_".contains(*character)
                    })
                    .collect();
                if !packages.contains(&package) {
                    unknown.push(format!("{shown}:{}: -p {package}", index + 1));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "not workspace packages ({packages:?}):\n  {}",
        unknown.join("\n  ")
    );
}

/// What a name in the guarantees table can refer to: files named `{name}.rs`, or every `.rs`
/// file under a folder called `{name}` (a crate).
fn sources_named(name: &str, sources: &[PathBuf]) -> Vec<PathBuf> {
    sources
        .iter()
        .filter(|path| {
            path.file_stem().is_some_and(|stem| stem == name)
                || path
                    .components()
                    .any(|component| component.as_os_str() == name)
        })
        .cloned()
        .collect()
}

#[test]
fn every_guarantee_names_a_test_that_exists() {
    let root = workspace();
    let sources = files_under(&root, "rs");
    let readme = readme();
    let rows = section(&readme, "Guarantees")
        .lines()
        .filter(|line| line.starts_with('|'))
        .skip(2);
    let mut missing = Vec::new();
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
        let tests = cells.last().expect("a row has cells");
        for name in tests.split('`').skip(1).step_by(2) {
            let found = if name.ends_with(".rs") {
                root.join(name).is_file()
            } else if let Some((module, function)) = name.rsplit_once("::") {
                let function = function.trim_end_matches('…');
                let exact = !name.ends_with('…');
                sources_named(module, &sources).iter().any(|file| {
                    let text = read(file);
                    let declared = format!("fn {function}");
                    text.match_indices(&declared)
                        .any(|(at, _)| !exact || text[at + declared.len()..].starts_with('('))
                })
            } else {
                !sources_named(name, &sources).is_empty()
            };
            if !found {
                missing.push(name.to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the README's guarantees table names tests that do not exist (renamed or moved?):\n  {}",
        missing.join("\n  ")
    );
}

//! The shape of the source (README, "Building"): the modules' `use crate::`
//! graph has no cycles, the pure core reaches no system call, and `unsafe`
//! lives only in the fenced modules. Read from src/ itself, so a change
//! that breaks the shape fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The pure core: no system calls, no unsafe, time passed in.
const CORE: &[&str] = &[
    "accounts",
    "arena",
    "argv",
    "conf",
    "crash",
    "display",
    "ending",
    "errno",
    "limits",
    "listen",
    "proto",
    "ring",
    "say",
    "reply",
    "service",
    "signal",
    "slot",
    "status",
    "supervisor",
    "table",
];
/// The modules allowed to hold `unsafe`.
const FENCED: &[&str] = &["sys", "main"];

/// module name -> (its source without tests, the modules it uses)
fn modules() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    let mut files = Vec::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for inner in fs::read_dir(&path).unwrap() {
                files.push((path.file_name().unwrap().to_owned(), inner.unwrap().path()));
            }
        } else {
            files.push((path.file_stem().unwrap().to_owned(), path));
        }
    }
    for (name, path) in files {
        let name = name.to_string_lossy().into_owned();
        if name == "lib" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        // Without its tests, and without comments (`//` to the end of a line).
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let mut uses = BTreeSet::new();
        for piece in code.split("crate::").skip(1) {
            let m: String = piece
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !m.is_empty() && m != name {
                uses.insert(m);
            }
        }
        let entry = out.entry(name).or_default();
        entry.0.push_str(&code);
        entry.1.extend(uses);
    }
    out
}

#[test]
fn the_module_graph_has_no_cycle() {
    let mods = modules();
    assert!(mods.len() > 20, "read {} modules from src/", mods.len());
    // Depth-first search for a back edge, reporting the cycle it closes.
    fn visit(
        m: &str,
        mods: &BTreeMap<String, (String, BTreeSet<String>)>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!("a module cycle: {} -> {m}", path[at..].join(" -> "));
        }
        if done.contains(m) {
            return;
        }
        path.push(m.to_string());
        for next in mods.get(m).map(|(_, u)| u.clone()).unwrap_or_default() {
            if mods.contains_key(&next) {
                visit(&next, mods, path, done);
            }
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in mods.keys() {
        visit(m, &mods, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_pure_core_makes_no_system_call_and_holds_no_unsafe() {
    let mods = modules();
    for name in CORE {
        let (code, uses) = mods
            .get(*name)
            .unwrap_or_else(|| panic!("no module {name}"));
        for banned in [
            "sys",
            "shell",
            "event_loop",
            "ctl",
            "pid1",
            "load",
            "client",
            "report",
        ] {
            assert!(
                !uses.contains(banned),
                "the core module {name} uses crate::{banned}"
            );
        }
        // (rustix's Errno is a type, not a call.)
        let calls = code.replace("rustix::io::Errno", "");
        assert!(
            !calls.contains("rustix::"),
            "the core module {name} calls rustix"
        );
        assert!(
            !code.contains("unsafe"),
            "the core module {name} holds unsafe"
        );
    }
    for (name, (code, _)) in &mods {
        if !FENCED.contains(&name.as_str()) {
            assert!(
                !code.contains("unsafe {") && !code.contains("unsafe fn"),
                "unsafe outside the fenced modules, in {name}"
            );
        }
    }
}

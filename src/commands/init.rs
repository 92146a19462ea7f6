//! `loadtest init [TEMPLATE]`: writes a commented starter scenario into the current folder, refusing to overwrite.

use crate::cli::InitArgs;
use crate::exit::Failure;
use std::io::Write;
use std::path::PathBuf;

/// The starters, by name: two are the shipped scenarios themselves, three exist only as templates.
pub const TEMPLATES: [(&str, &str); 5] = [
    ("steady", include_str!("../../scenarios/steady-state.toml")),
    ("retry-storm", include_str!("../../scenarios/retry-storm.toml")),
    ("breaker", include_str!("../../templates/breaker.toml")),
    ("autoscale", include_str!("../../templates/autoscale.toml")),
    ("produce-only", include_str!("../../templates/produce-only.toml")),
];

/// The name the `#:schema` line of a starter gives the schema (`loadtest schema` writes it).
pub const SCHEMA_FILE: &str = "loadtest.schema.json";

pub fn init(a: &InitArgs) -> Result<(), Failure> {
    let Some((name, text)) = TEMPLATES.iter().find(|(n, _)| *n == a.template) else {
        let names: Vec<_> = TEMPLATES.iter().map(|(n, _)| *n).collect();
        return Err(Failure::input(format!("no template {:?}; there are: {}", a.template, names.join(", "))));
    };
    let path = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.toml")));
    // create_new: an existing file (or a link to one) is never replaced, and no check-then-write race.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::input(format!("{} exists; init never overwrites (remove it or pass --out FILE)", path.display()))
        } else {
            Failure::input(format!("cannot create {}: {e}", path.display()))
        }
    })?;
    // The shipped files point editors at the schema beside them; a starter points at one in its own folder
    // (`loadtest schema > loadtest.schema.json`).
    let text = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("#:schema ") => format!("#:schema ./{SCHEMA_FILE}\n{rest}"),
        _ => text.to_string(),
    };
    file.write_all(text.as_bytes()).map_err(|e| Failure::runtime(format!("writing {}: {e}", path.display())))?;
    crate::outln!("wrote {} (the {name} starter); run it with: loadtest run {}", path.display(), path.display());
    Ok(())
}

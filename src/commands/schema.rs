//! `loadtest schema`: prints the scenario file's JSON Schema (see `scenario::schema`).

use crate::exit::Failure;

pub fn schema() -> Result<(), Failure> {
    let schema = crate::scenario::schema::generate();
    let text = serde_json::to_string_pretty(&schema).map_err(|e| Failure::runtime(e.to_string()))?;
    crate::outln!("{text}");
    Ok(())
}

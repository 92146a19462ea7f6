//! TOML text and `--set` overrides turned into a tree of values that remember where they came from.

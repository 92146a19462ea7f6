//! Builds a checked `Scenario` from a node tree: defaults, types, ranges, cross-field rules; all errors at once.

//! Typed access to a node tree that records every error (with path, line and fix) instead of stopping at the first.

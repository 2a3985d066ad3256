//! gm-state

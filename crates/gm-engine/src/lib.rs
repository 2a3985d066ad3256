//! gm-engine

//! gm-plan

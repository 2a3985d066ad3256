//! gm-cloud

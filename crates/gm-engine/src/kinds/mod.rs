//! One module per resource kind: how it is created for a plan and how it is deleted, the one
//! deletion path that apply's removals, a rollback and destroy share.
//!
//! The network kinds are the first here; the older kinds (groups, instances, volumes, roles,
//! secrets, the edge) still live in `apply.rs`, `apply/edge.rs` and `destroy.rs` and move here
//! one at a time.

pub(crate) mod identity;
pub(crate) mod network;

//! One module per resource kind: its creates and updates for the plan's phases, its delete (the
//! one path that apply's removals, a rollback and destroy share) and the undo of its creates
//! from the run's stack: the network, security groups, instances with their volumes, identity
//! (roles and secrets), and the edge (load balancer, target group, distribution).

pub(crate) mod edge;
pub(crate) mod identity;
pub(crate) mod instance;
pub(crate) mod network;
pub(crate) mod security_group;

//! The AI stack: n8n with PostgreSQL, Ollama, Qdrant and Crawl4AI on one EC2 instance.
//!
//! A tier and its options compile into an ordinary engine spec plus generated user data — the
//! same path as a hand-written spec — so deploy, plan, status and destroy are the engine's.

pub mod catalog;
pub mod compose;
pub mod file;
pub mod health;
pub mod tier;
pub mod user_data;

pub use tier::{compile, CompileError, EdgeRequest, Stack, StackRequest, Tier, STACK_NETWORK_CIDR};

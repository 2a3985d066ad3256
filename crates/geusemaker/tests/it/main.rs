//! GeuseMaker's end-to-end tests, in one test binary: each module drives the built
//! `geusemaker` binary against one moto server (started once, on a free loopback port, by
//! `support`), and checks AWS through the SDK the way a user would. One binary links the AWS
//! SDK once, where eight did it eight times.

mod support;

mod discover;
mod edge;
mod engine;
mod examples;
mod identity;
mod interactive;
mod inventory;
mod stack;

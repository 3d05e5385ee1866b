//! The kernel's behaviour, one file per subject: ordering, token buckets, the network's
//! transport and its flow resets, closed forms, determinism.

mod bucket;
mod closed_form;
mod determinism;
mod faults;
mod network;
mod ordering;
mod reset;
mod support;

//! The simulation kernel: integer time, a (time, sequence)-ordered event queue, seeded
//! RNG streams, shared NICs with burst credits, hosts with CPU threads, and statistics.
//! It knows nothing about caches, Redis or scenarios; every run is a pure function of
//! the model and its root seed.

//! AMS's benchmarks (feature `bench`, run by `map bench`; BENCHMARKS.md).

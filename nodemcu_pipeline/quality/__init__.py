"""Quality runs: the seeded fault soak and the benchmark runner."""

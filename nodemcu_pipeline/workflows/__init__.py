"""Workflows that chain the stages: assemble a plan, the demo and rehearsal, releases, clean."""

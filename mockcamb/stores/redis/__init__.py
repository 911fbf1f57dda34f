"""The Redis store: several workers serve one set of tasks."""

"""Whole models built from recur's layers (the seeds' architectures)."""

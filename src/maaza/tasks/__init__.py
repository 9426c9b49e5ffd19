"""Benchmark tasks: rows, schemas and prompt formats."""

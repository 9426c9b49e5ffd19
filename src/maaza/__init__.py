"""Maaza: build, benchmark and ship micro language models for structured tasks on edge hardware."""

__version__ = "0.1.0"

"""Data pipelines: snapshot (SQL models in order), emit (Polars -> datasets), simulate, student prompts."""

"""Data pipelines: snapshot (SQL models in order), emit (Polars -> datasets), inputs, diff and its renderings."""

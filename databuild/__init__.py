"""databuild: teacher LLM logs -> versioned fine-tuning datasets for small students."""

__version__ = "0.1.0"

"""`databuild predict` (registered on the app when implemented)."""

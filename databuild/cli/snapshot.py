"""`databuild snapshot` (registered on the app when implemented)."""

"""`databuild eval` (registered on the app when implemented)."""

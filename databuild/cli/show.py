"""`databuild show` (registered on the app when implemented)."""

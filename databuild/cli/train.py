"""`databuild train` (registered on the app when implemented)."""

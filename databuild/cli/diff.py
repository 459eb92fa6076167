"""`databuild diff` (registered on the app when implemented)."""

"""`databuild simulate` (registered on the app when implemented)."""

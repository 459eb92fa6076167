"""`databuild versions` (registered on the app when implemented)."""

"""`databuild runs` (registered on the app when implemented)."""

"""`databuild augment` (registered on the app when implemented)."""

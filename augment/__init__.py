"""Augmentation: mine the student's mistakes, generate similar intents, filter, write the next version."""

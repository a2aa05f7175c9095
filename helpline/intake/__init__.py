"""Intake assistant data: one script per language in scripts/ (docs/intake.md)."""

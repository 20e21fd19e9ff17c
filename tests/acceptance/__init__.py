"""Rulebook scenarios (docs/rulebook.md) run against both engines."""

"""Durability (issue #7): the write-ahead journal of stamped commands, snapshots, recovery,
the running event hash. docs/durability.md describes the formats and the procedures."""

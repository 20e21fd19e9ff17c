"""Order-entry gateway over ZeroMQ (msgspec protocol), sessions, throttles, client library.

Planned in issue #5.
"""

"""The venue process: configuration, wiring, and the ``venue`` command line."""

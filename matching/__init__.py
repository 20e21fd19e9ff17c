"""Matching: instruments, record layouts, the numba books, the engine and its reference twin."""

"""Readers of historical market data (LOBSTER order-by-order files, ...) into numpy records."""

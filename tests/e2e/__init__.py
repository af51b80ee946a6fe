"""End-to-end tests: the relay and the source as real processes on loopback, and their viewers."""

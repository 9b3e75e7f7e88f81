"""Shared test helpers: derived credentials, fixture cases, the service harness and checks, vendor servers."""

"""The usage and cost dashboard: its figures as SQL over the synced tables, each account's health, and the page.

The HTTP routes are in :mod:`unimeter.service.dashboard_api`; this package knows no HTTP. docs/dashboard.md has
every figure's SQL.
"""

"""Authoring commands: ``unimeter init`` scaffolds an integration, ``unimeter record`` records a fixture case."""

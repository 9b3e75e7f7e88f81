"""Package marker: the schemas ship inside the unimeter package as data, read through importlib.resources."""

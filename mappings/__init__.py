"""Package marker: the mappings ship inside the unimeter package as data, read through importlib.resources."""

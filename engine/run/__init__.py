"""Running one query, one module per stage: params -> partitions -> request (auth) -> send (ratelimit) ->
pagination -> records (validation), composed by :mod:`unimeter.run.pipeline`."""

from .pipeline import QueryOptions, ResumePoint, VendorPage, alist_usage, iter_pages, list_usage

__all__ = ["QueryOptions", "ResumePoint", "VendorPage", "alist_usage", "iter_pages", "list_usage"]

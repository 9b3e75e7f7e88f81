"""The unified API's semantics without HTTP: the query, the list-usage use case, cursors, formats, the envelope."""

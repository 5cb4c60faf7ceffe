"""Shared widgets: errors, jobs, results, tables and registry controls. Pages compose them."""

"""Cross-backend benchmarks for anykmeans (``python -m benchmarks``)."""

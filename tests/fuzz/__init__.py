"""Fuzz targets: bounded hypothesis runs here, long runs in ``bench/fuzz.py`` (same strategies and checks)."""

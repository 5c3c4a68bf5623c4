"""The version of reba, in one place (pyproject.toml reads it from here).

Bump it whenever vectors change for a given configuration (tests/test_fingerprints.py fails
otherwise): it is part of every provenance record and cache key.
"""

__version__ = "0.3.0"

"""The ``reba`` command line."""

"""The version of reba, in one place (pyproject.toml reads it from here), and the revision of
its vectors.

``VECTORS_REVISION`` is the reba version in which vectors last changed for an unchanged
configuration (the same method fingerprint: templates, read-out, layer, parameters). It is
part of every cache key, so a release that only adds methods or options keeps every cached
vector valid, while a fix that changes what a configuration computes invalidates them all.
Bump it to the new ``__version__`` when that happens: ``tests/test_fingerprints.py`` fails
otherwise. A change of a preset's configuration (a new template, an option set) needs no bump:
its fingerprint, and so its cache keys, change by themselves.
"""

__version__ = "0.4.0"
VECTORS_REVISION = "0.3.0"
# Earlier revisions whose cached vectors equal this one's for equal configurations, read by the
# evaluation cache when a key of this revision is missing. 0.3.0 was bumped under the rule
# before 0.4.0 (any vector change), for HTP's new default, which changed HTP's configuration
# as well (``init`` joined its fingerprint); no other vector moved (tests/fingerprints.json).
EQUIVALENT_REVISIONS = ("0.2.0",)

"""Moved to :mod:`reba.integrations.mteb`; this name stays importable."""

from reba.integrations.mteb import RebaMtebModel, model_meta_for, mteb_model

__all__ = ["RebaMtebModel", "model_meta_for", "mteb_model"]

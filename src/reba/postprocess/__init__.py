"""Post-processing of embeddings, fitted on unlabeled vectors (or, for EmbedFilter, on none).

Each step is one affine map stored as a :class:`PostState` (``state``): subtract a mean,
remove some directions, multiply by a matrix, add an offset. Fitting is in float64 with
sign-fixed eigenvectors, so the same vectors give the same state bit for bit; output is
float32.

- ``mean``: mean removal;
- ``abtt``: all-but-the-top (Mu & Viswanath 2018): the mean and the top-k principal
  directions removed;
- ``whitening``: Su et al. 2021: covariance made the identity, optionally to fewer dimensions;
- ``zscore``: per-dimension z-scores (MoEE's statistics, fitted on a corpus);
- ``embedfilter``: EmbedFilter's data-free projection onto the middle singular directions
  of the un-embedding matrix;
- ``files``: ``save_state``/``load_state``, a folder with a sha256 digest of the state.

``FITTERS`` is the one registry of the fitted kinds, by name. A configuration references a
saved state (``reference.PostprocessRef``, ``EmbedderConfig.postprocess``); ``Embedder.fit`` and
``reba fit`` make one, ``Embedder.embed`` applies it (docs/methods-2026.md, "as wired").
"""

from reba.postprocess.abtt import fit_abtt
from reba.postprocess.embedfilter import embedfilter_projection, embedfilter_state
from reba.postprocess.files import StateFileError, load_state, save_state
from reba.postprocess.mean import fit_mean
from reba.postprocess.registry import FITTERS, fit
from reba.postprocess.state import PostState, apply_all
from reba.postprocess.whitening import fit_whitening
from reba.postprocess.zscore import fit_zscore

__all__ = [
    "FITTERS",
    "PostState",
    "StateFileError",
    "apply_all",
    "embedfilter_projection",
    "embedfilter_state",
    "fit",
    "fit_abtt",
    "fit_mean",
    "fit_whitening",
    "fit_zscore",
    "load_state",
    "save_state",
]

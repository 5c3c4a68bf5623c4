"""MoEE's recipe part, as data: the router weights of every MoE layer next to the hidden state
(Li & Zhou, ICLR 2025, arXiv 2410.10814; code tianyi-lab/MoE-Embedding).

At the last position of the input, each MoE layer's router gives one weight per expert; the
routing vector ``RW`` is those weights concatenated over the MoE layers in order (dense layers
give nothing). With the hidden state ``HS`` read as usual (the last token of ``layer``):

- ``combine="concat"`` (MoEE concat): the vector is ``z([HS, RW])``;
- ``combine="sum"`` (MoEE sum, the paper's best): the score of two texts is
  ``cos(z(HS_a), z(HS_b)) + alpha * cos(z(RW_a), z(RW_b))``. reba returns one vector
  ``[u(z(HS)), sqrt(alpha) u(z(RW))] / sqrt(1 + alpha)`` (``u``: L2-normalised), whose plain
  cosine is that score divided by ``1 + alpha``: every cosine-based scorer (``reba eval``,
  vector stores, serve) ranks by the authors' sum. ``reba.moee.summed_similarity`` is the sum
  itself.

``z`` is a z-score per dimension, ``(x - mean) / (std + 1e-8)``, with statistics ``stats``:

- a folder: mean and std fitted once on a corpus the user gives (``reba.moee.fit_stats``),
  saved with a digest: a text's vector never depends on the others embedded with it;
- ``batch``: the authors' form: statistics of each run of ``batch`` consecutive inputs of the
  call (torch's unbiased std, NaN set to 0): a text's vector then depends on its neighbours,
  the batch size and the order; for reproducing the paper only;
- ``none``: no z-score (the raw ``[HS, RW]``; what ``fit_stats`` fits on).

``router``: how a router's logits become weights: ``auto`` (the authors' per family: raw logits
for Qwen-MoE and OLMoE, softmax over all experts for DeepSeekMoE; ``reba.engine.routers``),
``logits`` or ``softmax`` (over all experts, before top-k).
"""

from __future__ import annotations

from dataclasses import dataclass

COMBINES = ("concat", "sum")
ROUTERS = ("auto", "logits", "softmax")
KEYWORD_STATS = ("batch", "none")


@dataclass(frozen=True)
class RouterWeights:
    """MoEE: ``combine`` (``concat``/``sum``), ``alpha`` (the weight of the routing similarity
    in the sum; the authors' ``--similarity_weights``, 1.0), ``router`` (``auto``, ``logits``,
    ``softmax``), ``stats`` (a fitted statistics folder, ``batch`` or ``none``; empty: not
    chosen yet, refused when embedding) and ``batch`` (inputs per z-scored run with
    ``stats=batch``; the authors' default 64)."""

    combine: str = "concat"
    alpha: float = 1.0
    router: str = "auto"
    stats: str = ""
    batch: int = 64

    name = "moee"
    params = {"combine": str, "alpha": float, "router": str, "stats": str, "batch": int}

    def __post_init__(self) -> None:
        if self.combine not in COMBINES:
            raise ValueError(
                f"moee: combine must be one of {', '.join(COMBINES)}, got {self.combine!r}"
            )
        if self.router not in ROUTERS:
            raise ValueError(
                f"moee: router must be one of {', '.join(ROUTERS)}, got {self.router!r}"
            )
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not alpha >= 0:
            raise ValueError(f"moee: alpha must be a number >= 0, got {alpha!r}")
        if type(self.batch) is not int or self.batch < 2:
            raise ValueError(f"moee: batch must be an integer >= 2, got {self.batch!r}")
        if not isinstance(self.stats, str) or any(c in self.stats for c in ",[]"):
            raise ValueError(
                f"moee: stats must be a folder (without , [ or ], so that a method name can "
                f"hold it), 'batch' or 'none', got {self.stats!r}"
            )

    @property
    def fitted(self) -> bool:
        """Whether ``stats`` names a fitted statistics folder."""
        return self.stats not in (*KEYWORD_STATS, "")

    def statistics_digest(self) -> dict[str, str]:
        """``{"stats_sha256": ...}`` of a fitted statistics folder (read and checked), for
        cache keys and provenance: refitting into the same folder changes the key."""
        from reba.postprocess.files import load_state

        return {"stats_sha256": load_state(self.stats).digest} if self.fitted else {}

"""Every transformers API reba uses that is not a documented, stable one, in one place.

reba's attention plugs into transformers below its public surface: the mask helpers of
``transformers.masking_utils`` (``and_masks``, ``padding_mask_function``,
``prepare_padding_mask``, ``AttentionMaskInterface``, ``eager_mask``), the attention
implementation a model's config holds (``config._attn_implementation``) and the
``eager_attention_forward`` each modeling module defines. They move between releases, so each
is looked up when first used (``import reba`` never fails because one was renamed) and a
missing one raises ``TransformersAPIError`` naming it, the installed version and the tested
range. Other modules import them only from here.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

# The transformers versions reba supports: pyproject's bounds; CI tests TESTED.
LOWEST, BELOW = (5, 25), (6, 0)
TESTED = "5.25.0"


class TransformersAPIError(ImportError):
    """An internal transformers API reba relies on is missing or changed."""


def _version() -> str:
    import transformers

    return transformers.__version__


def _release(version: str) -> tuple[int, int]:
    major, minor, *_ = (version.split(".") + ["0"])[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


@cache
def check_version() -> str:
    """The installed transformers version; ``TransformersAPIError`` outside the supported range."""
    version = _version()
    if not LOWEST <= _release(version) < BELOW:
        raise TransformersAPIError(
            f"reba needs transformers >={'.'.join(map(str, LOWEST))},<{'.'.join(map(str, BELOW))}"
            f" (tested with {TESTED}); {version} is installed. Install a supported version: "
            f"pip install 'transformers>={'.'.join(map(str, LOWEST))},<{BELOW[0]}'"
        )
    return version


def _missing(what: str, err: BaseException | None = None) -> TransformersAPIError:
    return TransformersAPIError(
        f"reba uses transformers' {what}, which transformers {_version()} does not have "
        f"(reba is tested with {TESTED}; supported: >={'.'.join(map(str, LOWEST))},"
        f"<{BELOW[0]}){f': {err}' if err else ''}"
    )


def masking_utils(name: str) -> Any:
    """``transformers.masking_utils.<name>`` (mask helpers and the mask interface)."""
    check_version()
    try:
        from transformers import masking_utils as module
    except ImportError as err:
        raise _missing("masking_utils module", err) from err
    found = getattr(module, name, None)
    if found is None:
        raise _missing(f"masking_utils.{name}")
    return found


def attn_implementation(model: Any) -> str | None:
    """The attention implementation a loaded model runs (``config._attn_implementation``)."""
    config = model.config
    if not hasattr(config, "_attn_implementation"):
        raise _missing("PretrainedConfig._attn_implementation")
    return config._attn_implementation


def eager_attention_forward(module: Any) -> Any | None:
    """The ``eager_attention_forward`` of the module's modeling file, or None if it has none."""
    return getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)

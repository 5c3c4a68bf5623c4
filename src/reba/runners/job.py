"""What an embedding job is asked to do: a plain, picklable description shared by the runners.

The command line builds an ``EmbedJob``; the runners (and Ray actors, which receive it as a
dict) build their ``Embedder`` from its ``EmbedderConfig``. Nothing here imports the command line.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from reba.config import EmbedderConfig
from reba.io.rows import Fields
from reba.io.write import OUTPUT_FORMATS


@dataclass(frozen=True)
class EmbedJob:
    input: str
    output: str
    config: EmbedderConfig = EmbedderConfig()
    device: str | None = None  # where it runs: not part of the configuration
    batch_size: int = 16
    normalize: bool = False
    packing: bool = False
    field: str = "text"
    id_field: str | None = "id"
    word_field: str | None = None
    span_field: str | None = None
    shard_rows: int = 10000
    quiet: bool = False

    @property
    def fields(self) -> Fields:
        return Fields(self.field, self.id_field, self.word_field, self.span_field)

    @property
    def level(self) -> str:
        return self.fields.level

    @property
    def writes_folder(self) -> bool:
        """A folder of parts: ``--output`` ends in ``/``, has no suffix, or is a folder."""
        if self.output.endswith(("/", os.sep)) or not PurePosixPath(self.output).suffix:
            return True
        return "://" not in self.output and os.path.isdir(self.output)

    def check(self) -> None:
        for name in ("batch_size", "shard_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
        if self.level == "word" and self.config.postprocess is not None:
            raise ValueError(
                "the configuration's post-processing was fitted on sentence vectors; word-level "
                "embedding (--word-field/--span-field) with it is not supported"
            )
        suffix = PurePosixPath(self.output).suffix.lower()
        if not self.writes_folder and suffix not in OUTPUT_FORMATS:
            raise ValueError(
                f"{self.output}: unsupported output format {suffix!r}; use one of "
                f"{OUTPUT_FORMATS}, or a folder (a name without a suffix, or ending in /)"
            )

    def output_config(self, described: dict) -> dict:
        """What a folder's parts must share: the embedder's ``describe()`` and how rows were read
        and cut. A re-run with any of it different is refused."""
        return {
            **described,
            "level": self.level,
            "field": self.field,
            "id_field": self.id_field,
            "word_field": self.word_field,
            "span_field": self.span_field,
            "normalize": bool(self.normalize),
            "shard_rows": self.shard_rows,
        }

    def as_dict(self) -> dict:
        """Plain data (the configuration as its file form), e.g. for Ray's actors."""
        return {**asdict(self), "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> EmbedJob:
        return cls(**{**data, "config": EmbedderConfig.from_dict(data["config"])})


def make_embedder(job: EmbedJob, device: str | None = None):
    """The job's ``Embedder`` (``device`` overrides the job's, e.g. a Ray actor's GPU)."""
    from reba import Embedder

    return Embedder.from_config(job.config, device=device or job.device)

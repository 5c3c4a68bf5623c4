"""What an embedding job is asked to do: a plain, picklable description shared by the runners.

The command line builds an ``EmbedJob``; the runners (and Ray actors, which receive it pickled)
build their ``Embedder`` from it. Nothing here imports the command line.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from reba.io.rows import Fields
from reba.io.write import OUTPUT_FORMATS


@dataclass(frozen=True)
class EmbedJob:
    input: str
    output: str
    model: str
    method: str = "reba"
    k: int | None = None
    layer: int | None = None  # None: the method's own
    include_prefix: bool = False
    preprocess: str | None = None
    max_length: int | None = None
    device: str | None = None
    dtype: str | None = None
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
        return asdict(self)


def make_embedder(job: EmbedJob, device: str | None = None):
    """The job's ``Embedder`` (``device`` overrides the job's, e.g. a Ray actor's GPU)."""
    from reba import Embedder

    return Embedder(
        job.model,
        method=job.method,
        k=job.k,
        layer=job.layer,
        include_prefix=job.include_prefix,
        preprocess=job.preprocess,
        max_length=job.max_length,
        device=device or job.device,
        dtype=job.dtype,
    )

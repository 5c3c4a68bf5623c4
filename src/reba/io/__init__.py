"""Reading inputs and writing embeddings in the formats the CLI and services accept."""

from reba.io.read import InputRecords, read_inputs
from reba.io.write import OUTPUT_FORMATS, write_embeddings

__all__ = ["OUTPUT_FORMATS", "InputRecords", "read_inputs", "write_embeddings"]

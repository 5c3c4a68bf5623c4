"""reba where users already work: sentence-transformers, LangChain and mteb.

Each integration's dependency is optional and imported only by its own module:

- ``reba.integrations.sentence_transformers``: ``export_st`` writes a sentence-transformers
  model folder (no weights) whose module builds a ``reba.Embedder``
  (``pip install 'reba[st]'``).
- ``reba.integrations.langchain``: ``RebaEmbeddings``, a LangChain ``Embeddings``
  (``pip install 'reba[langchain]'``).
- ``reba.integrations.mteb``: ``RebaMtebModel``, an mteb 2.x encoder (``pip install 'reba[eval]'``).
"""

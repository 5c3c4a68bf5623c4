"""The engines of ``reba embed``, below the command line: ``local`` (this process) and ``ray``.

Both read inputs and write folders with ``reba.io``, and embed each range of rows with
``embed_range``, so their outputs are the same files, row for row.
"""

"""Views of explanations (``reba.engine.explain``): shaded tokens in the terminal
(``terminal``), a self-contained HTML page (``page``), and the page assets the playground of
``reba serve`` shares with it (``assets/``: one renderer, ``explain.js``)."""

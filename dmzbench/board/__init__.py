"""Records -> pages (``dmzbench leaderboard``, ``dmzbench.records``/``dmzbench.leaderboard``): a pure function of the
result records. ``build``: records + the tasks' declared metrics -> tables; ``marks``: differences from control and
chance, flags; ``text``: the words both pages share; ``page``: Markdown, CSV, ``--check``, and the page set;
``html_page``: plots and the static HTML page (receives tables, never imports ``page``); ``as_json``: the tables as
JSON; ``claims``: the papers' claims checked against the cells; ``learning_curves``: quality against training FLOPs;
``frames``: records and tables as pandas DataFrames (the Python API).
"""

"""The command line (``dmzbench ...``), a client of the core: each command imports only what it uses, so ``ls`` and
``--help`` stay torch-free. ``app``: the typer commands and ``main``; ``args``: conventions the parser alone does not
give; ``listing``: what ``dmzbench ls`` shows (``listing_snapshot.json``: the built-ins' rows, so a first ``ls`` imports
nothing); ``run_table``: the end-of-run table.
"""

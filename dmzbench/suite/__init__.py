"""Many runs under a budget (``dmzbench suite``): a suite's runs planned, priced and run, resumably. ``catalog``: the
named suites (models, presets, tasks, options) and their plan, phase by phase; ``execute``: the groups not yet
recorded that fit the remaining budget, and ``--shard``. Both price runs with the cost model, ``dmzbench/budget.py``
(flat: the guard, the runner and the tasks use it too).
"""

"""Many runs under a budget (``dmzbench suite``): a suite's runs planned, priced and run, resumably. ``catalog``: the
named suites (models, presets, tasks, options) and their plan, phase by phase; ``execute``: the groups not yet
recorded that fit the remaining budget, and ``--shard``; ``budget``: the cost model (FLOPs counted on the meta device,
tasks' declared costs, device profiles; ``profiles/``: the measured CPU profile).
"""

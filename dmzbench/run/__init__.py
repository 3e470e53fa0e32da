"""One run: names -> objects -> a model -> a task -> a record (``dmzbench run``, ``dmzbench.evaluate``, each run of a
suite). ``plan``: names and options resolved once into a ``RunPlan``; ``runner``: orchestration (obtain a model,
run a task, write the record); ``validate``: a seed, an output folder; ``preflight``: checks made before any data
loads; ``guard``: time and memory estimated before the work starts; ``checkpoints``: a checkpoint's meta and its
verified read; ``locks``: one trainer per model across processes; ``features``: the on-disk feature cache;
``outputs``: every scored adapter output checked once; ``checked``: the adapter ``dmzbench.load`` returns, checking its
inputs; ``records``: the result record written at the end.
"""

"""The built-in tasks, one module each, registered through the ``dmzbench.tasks`` entry points."""

"""The built-in model families, one module each, registered through the ``dmzbench.models`` entry points."""

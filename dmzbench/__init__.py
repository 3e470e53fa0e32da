"""dmzbench: diffusion autoencoders trained and scored side by side under one protocol."""

__version__ = "0.1.0"

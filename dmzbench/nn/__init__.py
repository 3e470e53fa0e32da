"""Building blocks that more than one model family uses (ADM UNet with a second condition, latent diffusion models)."""

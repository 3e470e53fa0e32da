"""Metrics: image quality (PSNR, SSIM), Frechet distance, and the feature spaces FID-type numbers are computed in."""

"""The notebook walk-through of docs/python-api.md, end to end, as a script (each ``# %%`` is a notebook cell).

    python examples/notebook.py [--out FOLDER]

It uses ``init`` presets (nothing to train) and the procedural ``shapes`` data set (made in seconds, no download), so
it runs anywhere in well under a minute; tests/test_notebook_example.py runs it. With trained models, drop
``preset="init"`` (``dmzbench train --model dmz`` first: ``load`` never trains unless told to).
"""

# %% setup
import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script writes the plot to a file; in a notebook leave the backend alone

import seaborn as sns
import torch
from torch import nn

import dmzbench

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=None, help="folder for the records and the plot (default: a temp dir)")
out = parser.parse_args().out or Path(tempfile.mkdtemp(prefix="dmzbench-notebook-"))
results = out / "results"
N = 500  # images the probe fits on: small, so every cell takes seconds

# %% 1. load a model and encode a batch
dmz = dmzbench.load("dmz", preset="init", dataset="shapes", device="cpu")
print(dmz.name, dmz.preset, dmz.info.latent_shape, dmz.info.latent_kind, dmz.checkpoint_sha256[:12])
x = torch.rand(8, 3, 32, 32) * 2 - 1  # images are float (B, C, H, W) in [-1, 1]
z = dmz.adapter.encode(x)
print("latents:", tuple(z.shape))
try:
    dmz.adapter.encode(x * 127.5 + 127.5)  # 0..255 values are refused with the fix, not silently scored
except dmzbench.DmzbenchError as exc:
    print("refused:", exc)


# %% 2. your own torch module, wrapped in a ~20-line adapter
class RandomFeatures(nn.Module):
    """A fixed random convolution + pooling: an encoder that was never trained."""

    info = dmzbench.ModelInfo(name="random-conv", family="mine", preset="v1", image_size=32, channels=3,
                              latent_shape=(64,), latent_kind="continuous", can_reconstruct=False, can_generate=False)

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 16, kernel_size=5, stride=2, padding=2)

    @torch.no_grad()
    def encode(self, x):
        return nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 2).flatten(1)  # (B, 16 * 2 * 2)

    def reconstruct(self, x, *, steps, generator=None):
        raise dmzbench.CapabilityMissing("random-conv has no decoder")

    def generate(self, n, *, steps, generator=None):
        raise dmzbench.CapabilityMissing("random-conv has no decoder")


# %% 3. evaluate: a registered name, the loaded model and the in-memory one, on the same task and data
records = [
    dmzbench.evaluate("pixels", "probe", dataset="shapes", results=results, max_images=N),
    dmzbench.evaluate(dmz, "probe", results=results, max_images=N),
    dmzbench.evaluate(RandomFeatures(), "probe", dataset="shapes", results=results, max_images=N),
]
for rec in records:
    print(f"{rec.model['name']:12s} {rec.model['preset']:18s} accuracy {rec.metrics['accuracy']:.4f} "
          f"± {rec.metrics['accuracy_std']:.4f}  reproduce: {rec.reproduce or '(in-memory model: none)'}")

# %% 4. the records as a tidy DataFrame, and the page's table
df = dmzbench.records(results)
print(df[["model", "preset", "task", "dataset", "metric", "value", "uncertainty", "direction"]].to_string(index=False))
print(dmzbench.leaderboard(df)["Representation"].to_string(index=False))

# %% 5. one plot with seaborn
accuracy = df[df["metric"] == "accuracy"]
ax = sns.barplot(data=accuracy, x="model", y="value", hue="model", legend=False)
ax.errorbar(range(len(accuracy)), accuracy["value"], yerr=accuracy["uncertainty"], fmt="none", color="black")
ax.set(ylim=(0, 1), ylabel=f"probe accuracy on shapes (N={N})", title="linear probe, untrained encoders")
ax.figure.savefig(out / "probe.png", dpi=100, bbox_inches="tight")
print(f"plot written to {out / 'probe.png'}")

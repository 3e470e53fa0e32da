"""docs/fidelity.md cites real files: every file its official column names is one the named repository holds, and every
row has the four columns (item | official repo, file and function | our choice | why)."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "fidelity.md"

# The files of each official repository that the table may cite, written down from the repositories' trees (read with
# git ls-tree at the commits named; no network in tests). A row that cites another file must add it here, after
# checking that the repository holds it.
OFFICIAL_PATHS = {
    "exlab-research/dmz": {  # fc2e952 / 5a5d1d6
        "README.md", "bridge_eval.py", "bridge_train.py", "datasets/celeba64_npz.py", "ddpm_eval.py", "ddpm_train.py",
        "dmz/datasets.py", "dmz/gaussian_diffusion.py", "dmz/models.py", "dmz/trainer.py", "downstream_task_eval.py",
    },
    "forever208/DDPM-IP": {  # 1f76719: the guided_diffusion package DMZ imports
        "guided_diffusion/fp16_util.py", "guided_diffusion/gaussian_diffusion.py", "guided_diffusion/image_datasets.py",
        "guided_diffusion/losses.py", "guided_diffusion/respace.py", "guided_diffusion/train_util.py",
    },
    "openai/improved-diffusion": {"improved_diffusion/losses.py", "improved_diffusion/respace.py"},
    "phizaz/diffae": {  # 00c57d3
        "config.py", "dataset.py", "diffusion/base.py", "diffusion/diffusion.py", "experiment.py", "interpolate.ipynb",
        "metrics.py", "model/latentnet.py", "templates_latent.py",
    },
    "ckczzj/PDAE": {  # 4f9c29a
        "config/celeba64_latent.yml", "config/celeba64_representation_learning.yml", "diffusion/ddim.py",
        "diffusion/gaussian_diffusion.py", "model/module.py", "model/representation_learning/encoder/celeba64.py",
        "model/shift_unet.py", "sampler/autoencoding_eval.py", "sampler/infer_latents.py", "sampler/interpolation.py",
        "trainer/train_latent_diffusion.py", "trainer/train_representation_learning.py",
    },
    "CompVis/latent-diffusion": {  # a506df5
        "configs/autoencoder/autoencoder_kl_32x32x4.yaml", "configs/latent-diffusion/celebahq-ldm-vq-4.yaml",
        "configs/latent-diffusion/lsun_churches-ldm-kl-8.yaml", "ldm/data/imagenet.py", "ldm/data/lsun.py",
        "ldm/lr_scheduler.py", "ldm/models/autoencoder.py", "ldm/models/diffusion/ddpm.py",
        "ldm/modules/diffusionmodules/openaimodel.py", "ldm/modules/diffusionmodules/util.py",
        "ldm/modules/losses/contperceptual.py", "main.py",
    },
}
# The names the rows give the repositories; a cited file belongs to the repository named last before it in its cell.
LABELS = {"DDPM-IP": "forever208/DDPM-IP", "I-DDPM": "openai/improved-diffusion", "DMZ": "exlab-research/dmz",
          "DiffAE": "phizaz/diffae", "PDAE": "ckczzj/PDAE", "LDM": "CompVis/latent-diffusion"}
LABEL = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, LABELS)) + r")(?![\w-])")
FILE = re.compile(r"^[\w./-]+\.(py|ya?ml|ipynb|md)$")


def table_rows() -> list[list[str]]:
    lines = [l for l in DOC.read_text().splitlines() if l.startswith("| ")]
    assert lines[0] == "| item | official repo, file and function | our choice | why |"
    return [[c.strip() for c in l.strip().strip("|").split(" | ")] for l in lines[1:] if not l.startswith("| ---")]


def cited_files(cell: str) -> list[tuple[str | None, str]]:
    """(repository, file) for every backticked file name in ``cell``, the repository being the label last named before
    it outside backticks (None when no label precedes it)."""
    out, repo = [], None
    for i, part in enumerate(cell.split("`")):
        if i % 2 == 0:
            for label in LABEL.findall(part):
                repo = LABELS[label]
        elif FILE.match(part):
            out.append((repo, part))
    return out


def test_every_row_has_the_four_columns():
    rows = table_rows()
    assert len(rows) > 40
    bad = [r[0] for r in rows if len(r) != 4 or not all(r)]
    assert bad == []


def test_every_cited_official_file_is_one_its_repository_holds():
    wrong = []
    for item, official, *_ in table_rows():
        for repo, path in cited_files(official):
            if repo is None or path not in OFFICIAL_PATHS[repo]:
                wrong.append(f"{item}: {path} ({repo or 'no repository named before it'})")
    assert wrong == []


def test_the_check_catches_a_path_that_is_not_in_the_repository():
    assert cited_files("PDAE `model/diffusion/ddim.py` `DDIM`; DiffAE `diffusion/base.py`") == [
        ("ckczzj/PDAE", "model/diffusion/ddim.py"), ("phizaz/diffae", "diffusion/base.py")]
    assert "model/diffusion/ddim.py" not in OFFICIAL_PATHS["ckczzj/PDAE"]
    assert cited_files("DMZ: DDPM-IP `guided_diffusion/respace.py`") == [
        ("forever208/DDPM-IP", "guided_diffusion/respace.py")]

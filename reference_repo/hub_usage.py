"""Load the tutorial's MLP through torch.hub and evaluate it on one test batch.

USAGE
    python hub_usage.py [-b/--batch-size 64]

The model comes from ``torch.hub.load(<this repo>, "custom_model",
source="local")``; the repo path is computed from this file, so the script
works from any working directory. To load it from GitHub instead, replace the
path with ``"<owner>/<repo>:<ref>"`` and drop ``source="local"``.
"""

from __future__ import annotations

import argparse
import os

import torch
from torch import nn
from torch.utils.data import DataLoader

from refzoo.data import get_dataset

REPO_DIR = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-b", "--batch-size", type=int, default=64, help="size of the evaluated test batch (default: %(default)s)")
    args = parser.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    _, test_data = get_dataset()
    test_loader = DataLoader(test_data, batch_size=args.batch_size)

    print("[INFO] loading the model through torch.hub...")
    model = torch.hub.load(REPO_DIR, "custom_model", source="local", pretrained=True).to(device)
    loss_fn = nn.CrossEntropyLoss()

    with torch.no_grad():
        x, y = next(iter(test_loader))
        x, y = x.to(device), y.to(device)
        logits = model(x)
        test_loss = loss_fn(logits, y).item()
        test_acc = (logits.argmax(1) == y).float().mean().item()
    print(f"[INFO] evaluated {y.size(0)} test samples on {device}")
    print(f"test loss: {test_loss:.3f} test accuracy: {test_acc:.3f}")


if __name__ == "__main__":
    main()

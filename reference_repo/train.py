"""Train the PyTorch Hub tutorial's MLP on the make_blobs problem.

USAGE
    python train.py                     # writes refzoo/weights/mlp_blobs.pth
    python train.py --output /tmp/m.pth # writes elsewhere

The run follows the tutorial: SGD with learning rate 1e-2, batch size 64,
10 epochs, cross-entropy loss, on ``make_blobs(n_samples=1000, n_features=4,
centers=3, cluster_std=2.5, random_state=95)`` split with
``train_test_split(test_size=0.15, random_state=95)``. It is seeded
(``torch.manual_seed`` for the initialisation, a seeded ``torch.Generator`` for
the shuffling) and runs on the CPU, so two runs on one machine write identical
weights. The committed weights come from the default seed.
"""

from __future__ import annotations

import argparse
import os

import torch
from torch import nn
from torch.utils.data import DataLoader

from refzoo.data import get_dataset
from refzoo.mlp import get_training_model

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "refzoo", "weights", "mlp_blobs.pth")

# Tutorial hyperparameters.
BATCH_SIZE = 64
EPOCHS = 10
LR = 1e-2
# Seed of the committed weights (initialisation and shuffling).
SEED = 2


def run_epoch(model, loader, loss_fn, optimizer=None) -> tuple[float, float]:
    """One pass over ``loader``; trains when ``optimizer`` is given. Returns (loss, accuracy)."""
    total_loss, correct, samples = 0.0, 0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            logits = model(x)
            loss = loss_fn(logits, y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * y.size(0)
            correct += (logits.argmax(1) == y).sum().item()
            samples += y.size(0)
    return total_loss / samples, correct / samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="where to save the state dict (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="initialisation and shuffling seed (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="number of epochs (default: %(default)s)")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    train_data, test_data = get_dataset()
    shuffle_gen = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_data, batch_size=BATCH_SIZE, shuffle=True, generator=shuffle_gen)
    test_loader = DataLoader(test_data, batch_size=BATCH_SIZE)

    model = get_training_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    print(f"[INFO] training on {len(train_data)} samples, testing on {len(test_data)} (seed {args.seed})")

    for epoch in range(1, args.epochs + 1):
        model.train()
        train_loss, train_acc = run_epoch(model, train_loader, loss_fn, optimizer)
        model.eval()
        test_loss, test_acc = run_epoch(model, test_loader, loss_fn)
        print(f"epoch: {epoch} train loss: {train_loss:.3f} train accuracy: {train_acc:.3f}")
        print(f"epoch: {epoch} test loss: {test_loss:.3f} test accuracy: {test_acc:.3f}")

    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    torch.save(model.state_dict(), output)
    print(f"[INFO] saved the state dict to {output}")


if __name__ == "__main__":
    main()

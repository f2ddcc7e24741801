"""Train the reference DCGAN on scikit-learn's handwritten digits (offline, CPU).

USAGE
    python train_dcgan.py                        # writes refzoo/weights/dcgan_digits.pth
    python train_dcgan.py --epochs 1 --max-batches 5 --output /tmp/g.pth   # quick check

The 1797 8x8 digits are rescaled to [-1, 1] and upsampled to 32x32
(``refzoo.data.digits_32x32``). Standard DCGAN recipe: Adam (lr 2e-4, betas
(0.5, 0.999)) for both networks, binary cross-entropy on logits, one-sided label
smoothing (real targets 0.9). Training runs on the CPU, seeded (initialisation,
shuffling and noise) with deterministic algorithms, so two runs on one machine
write identical weights; 40 epochs take about a minute on two cores. Only the
generator's state dict is saved: it is all the ``DCGAN`` entry point needs.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch import nn

from refzoo.data import digits_32x32
from refzoo.dcgan import DCGAN, Discriminator, init_weights

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "refzoo", "weights", "dcgan_digits.pth")

# Hyperparameters of the committed weights.
SEED = 0
EPOCHS = 40
BATCH_SIZE = 64
LR = 2e-4
BETAS = (0.5, 0.999)
REAL_LABEL = 0.9  # one-sided label smoothing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="where to save the generator's state dict (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="number of epochs (default: %(default)s)")
    parser.add_argument("--max-batches", type=int, default=None, help="stop each epoch after this many batches (quick runs and tests)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="mini-batch size (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=LR, help="Adam learning rate of both networks (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of initialisation, shuffling and noise (default: %(default)s)")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)

    images, _ = digits_32x32()
    model = DCGAN()  # the generator wrapper the entry point returns (DCGAN init applied)
    netG = model.netG
    netD = Discriminator()
    netD.apply(init_weights)
    optG = torch.optim.Adam(netG.parameters(), lr=args.lr, betas=BETAS)
    optD = torch.optim.Adam(netD.parameters(), lr=args.lr, betas=BETAS)
    bce = nn.BCEWithLogitsLoss()

    n = images.size(0)
    print(f"[INFO] training on {n} digits for {args.epochs} epochs (batch {args.batch_size}, seed {args.seed})")
    start = time.perf_counter()
    netG.train()
    netD.train()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(n, generator=gen)
        batches = [order[i : i + args.batch_size] for i in range(0, n - args.batch_size + 1, args.batch_size)]
        if args.max_batches is not None:
            batches = batches[: args.max_batches]
        sum_d = sum_g = 0.0
        for idx in batches:
            real = images[idx]
            b = real.size(0)
            noise = torch.randn(b, model.latent_dim, generator=gen)
            fake = netG(noise)

            # Discriminator: real -> REAL_LABEL, fake -> 0.
            optD.zero_grad()
            loss_d = bce(netD(real), torch.full((b,), REAL_LABEL)) + bce(netD(fake.detach()), torch.zeros(b))
            loss_d.backward()
            optD.step()

            # Generator: make the discriminator call the fakes real.
            optG.zero_grad()
            loss_g = bce(netD(fake), torch.ones(b))
            loss_g.backward()
            optG.step()
            sum_d += loss_d.item()
            sum_g += loss_g.item()
        print(
            f"epoch: {epoch} D loss: {sum_d / len(batches):.3f} G loss: {sum_g / len(batches):.3f} "
            f"({time.perf_counter() - start:.0f} s)"
        )

    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    torch.save(netG.state_dict(), output)
    print(f"[INFO] saved the generator's state dict to {output} ({os.path.getsize(output) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

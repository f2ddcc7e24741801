"""Generate digits with the reference DCGAN through torch.hub and save a PNG grid.

USAGE
    python inference.py [-n/--num-images 64] [--output grid.png] [--seed N]

Mirrors the PyTorch Hub tutorial's pytorch_GAN_zoo client code
(``buildNoiseData``, ``test``, ``torchvision.utils.make_grid``), but loads the
model from this repo (``source="local"``, path computed from this file, so any
working directory works) and writes the grid with
``torchvision.utils.save_image`` instead of opening a window. A relative
``--output`` is relative to the current working directory.
"""

from __future__ import annotations

import argparse
import os

import torch
import torchvision

REPO_DIR = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--num-images", type=int, default=64, help="number of images to generate (default: %(default)s)")
    parser.add_argument("--output", default="grid.png", help="PNG file to write (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="seed the noise for a reproducible grid")
    args = parser.parse_args(argv)

    use_gpu = torch.cuda.is_available()
    print("[INFO] loading the DCGAN through torch.hub...")
    model = torch.hub.load(REPO_DIR, "DCGAN", source="local", pretrained=True, useGPU=use_gpu)

    generator = None if args.seed is None else torch.Generator().manual_seed(args.seed)
    noise, _ = model.buildNoiseData(args.num_images, generator=generator)
    with torch.no_grad():
        images = model.test(noise)

    # Images are in [-1, 1]; map them to [0, 1] for the PNG.
    grid = torchvision.utils.make_grid(images, nrow=8, padding=2, normalize=True, value_range=(-1, 1))
    output = os.path.abspath(args.output)
    if os.path.dirname(output):
        os.makedirs(os.path.dirname(output), exist_ok=True)
    torchvision.utils.save_image(grid, output)
    print(f"[INFO] wrote {args.num_images} generated digits ({model.getSize()[0]}x{model.getSize()[1]}) to {output}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Peer: the book's faces VAE (GDL_code chapter 3, CelebA) in PyTorch, timed on synthetic 128x128x3 images.

  ~/venv-torch/bin/python launch/bench/peers/torch_faces.py --threads 1              # one process, one thread
  ~/venv-torch/bin/python launch/bench/peers/torch_faces.py --ranks 2 --threads 1    # DDP over gloo, two ranks
Prints one JSON line like torch_vae.py, plus the model's parameter count.
Model (03_05_vae_faces_train.ipynb): conv 32,64,64,64 (k3, stride 2, 'same'), each followed by BatchNorm,
LeakyReLU(0.3), Dropout(0.25); dense mu/log_var (z 200); dense -> 8x8x64; conv-transpose 64,64,32,3
(stride 2), BN + LeakyReLU + Dropout on all but the last, sigmoid; loss = 10000 * MSE + KL; Adam 0.0005;
batch 32. The images are uniform noise: there is no CelebA here, and a step's time does not depend on it.
"""
import torch

import common
from torch_vae import ConvVAE, launch

# Keras's BatchNormalization defaults (eps 1e-3, momentum 0.99 = PyTorch's 0.01), as the book's model has.
KERAS_BATCH_NORM = {"eps": 1e-3, "momentum": 0.01}


def faces(rank, a):
    """Each rank makes its own images (seed 1234 + rank), so the ranks see different data."""
    images = torch.from_numpy(common.noise_images(a.images, (3, 128, 128), 1234 + rank))
    model = ConvVAE(3, 128, [2, 2, 2, 2], a.z_dim, KERAS_BATCH_NORM, dropout=True)
    # Trainable parameters only; keras_faces.py also counts the batch norms' 768 moving means and variances.
    return images, model, {"z_dim": a.z_dim, "parameters": sum(p.numel() for p in model.parameters())}


if __name__ == "__main__":
    launch(common.flags(__doc__, faces=True, torch=True, port=29513).parse_args(), faces, "pytorch-faces")

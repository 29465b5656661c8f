#!/usr/bin/env python3
"""Peer: the book's digits VAE (GDL_code chapter 3) in PyTorch, timed on Fashion-MNIST like `vae bench`.

  ~/venv-torch/bin/python launch/bench/peers/torch_vae.py --threads 1              # one process, one thread
  ~/venv-torch/bin/python launch/bench/peers/torch_vae.py --ranks 2 --threads 1    # DDP over gloo, two ranks
  ~/venv-torch/bin/python launch/bench/peers/torch_vae.py --threads 1 --limit 60000 --warmup 0 --steps 1875
                                                   # one epoch: mean_loss is its mean training loss
Prints one JSON line: images/s over the timed steps, the mean loss and the settings.
Model: conv 32,64,64,64 (k3, strides 1,2,2,1, 'same') + LeakyReLU(0.3), dense mu/log_var (z 2), dense ->
7x7x64, conv-transpose 64,64,32,1 (strides 1,2,2,1), sigmoid; loss = 1000 * MSE + KL; Adam 0.0005; batch 32.
torch_faces.py reuses ConvVAE and launch() from here.
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common


class ConvVAE(nn.Module):
    """The book's conv VAE: four convs down, dense mu/log_var, dense up, four transposed convs back with
    the same strides (as both of the book's models have). `norm` is BatchNorm2d's keyword arguments
    (None: no batch norm); `side` is the images' height and width."""

    FILTERS, DECODER_FILTERS = [32, 64, 64, 64], [64, 64, 32]

    def __init__(self, channels, side, strides, z_dim, norm=None, dropout=False):
        super().__init__()

        def block(conv, c):  # conv, [batch norm], LeakyReLU, [dropout]: the book's order
            layers = [conv] + ([nn.BatchNorm2d(c, **norm)] if norm is not None else []) + [nn.LeakyReLU(0.3)]
            return layers + ([nn.Dropout(0.25)] if dropout else [])

        enc, c_in = [], channels
        for c, s in zip(self.FILTERS, strides):
            enc += block(nn.Conv2d(c_in, c, 3, s, 1), c)
            c_in = c
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.small = side // int(np.prod(strides))  # side of the innermost feature map
        flat = self.small * self.small * 64
        self.mu, self.log_var, self.dense = nn.Linear(flat, z_dim), nn.Linear(flat, z_dim), nn.Linear(z_dim, flat)
        dec, c_in = [], 64
        for i, (c, s) in enumerate(zip(self.DECODER_FILTERS + [channels], strides)):
            # output_padding makes a stride-2 transposed conv double the side exactly, as Keras's 'same'.
            conv = nn.ConvTranspose2d(c_in, c, 3, s, 1, output_padding=s - 1)
            dec += block(conv, c) if i < 3 else [conv]  # the last one feeds the sigmoid directly
            c_in = c
        self.decoder = nn.Sequential(*dec, nn.Sigmoid())

    def forward(self, x):
        h = self.encoder(x)
        mu, log_var = self.mu(h), self.log_var(h)
        z = mu + torch.exp(log_var / 2) * torch.randn_like(mu)
        return self.decoder(self.dense(z).view(-1, 64, self.small, self.small)), mu, log_var


def train(rank, a, setup, peer):
    """One rank's run: `setup(rank, a)` gives its images (a tensor, uint8 or float in [0, 1]), its model
    and the extra JSON fields; rank 0 prints the line. Module-level so that spawn can pickle it."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)  # before the model: the same weights at every rank and in every run
    if a.ranks > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(a.port))
        torch.distributed.init_process_group("gloo", rank=rank, world_size=a.ranks)
    images, model, fields = setup(rank, a)
    if a.ranks > 1:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    clock = common.Clock(a, len(images), torch.distributed.barrier if a.ranks > 1 else None)
    for timed, batch in clock:
        x = images[batch]
        if x.dtype == torch.uint8:
            x = x.float() / 255.0  # bytes held in memory, converted per batch as a data loader would
        y, mu, log_var = model(x)
        r = F.mse_loss(y, x, reduction="none").mean(dim=(1, 2, 3)) * a.r_loss_factor
        kl = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp(), dim=1)
        loss = (r + kl).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if timed:
            clock.losses.append(loss.item())
    if rank == 0:
        common.report(a, peer, "torch", torch.__version__, a.ranks, clock, **fields)
    if a.ranks > 1:
        torch.distributed.destroy_process_group()


def launch(a, setup, peer):
    """One process, or one per rank under torch.multiprocessing (DDP over gloo)."""
    if a.ranks > 1:
        torch.multiprocessing.spawn(train, args=(a, setup, peer), nprocs=a.ranks)
    else:
        train(0, a, setup, peer)


def digits(rank, a):
    """Every rank loads the file and takes every ranks-th image, so the ranks see disjoint data."""
    shard = torch.from_numpy(common.idx_images(a.data, a.limit)).unsqueeze(1)[rank::a.ranks]
    model = ConvVAE(1, 28, [1, 2, 2, 1], a.z_dim, {} if a.batch_norm else None, a.dropout)
    return shard, model, {"z_dim": a.z_dim}


if __name__ == "__main__":
    p = common.flags(__doc__, torch=True, threads=max(1, os.cpu_count() or 1), port=29512)
    p.add_argument("--batch-norm", action="store_true", help="BatchNorm2d (PyTorch's defaults) after each conv")
    p.add_argument("--dropout", action="store_true", help="Dropout(0.25) after each conv")
    launch(p.parse_args(), digits, "pytorch")

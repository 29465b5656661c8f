#!/usr/bin/env python3
"""Peer: the book's faces VAE (GDL_code chapter 3, CelebA) in Keras on TensorFlow, on synthetic 128x128x3 images.

  ~/venv-tf/bin/python launch/bench/peers/keras_faces.py --threads 1
Prints one JSON line like torch_faces.py. Model (03_05_vae_faces_train.ipynb, models/VAE.py): conv
32,64,64,64 (k3, stride 2, 'same'), each BatchNormalization, LeakyReLU(0.3), Dropout(0.25); dense
mu/log_var (z 200); dense -> 8x8x64; conv-transpose 64,64,32,3 (stride 2), BN + LeakyReLU + Dropout on all
but the last, sigmoid; loss = 10000 * MSE + KL; Adam 0.0005; batch 32. Uniform-noise images, fixed seed.
"""
import numpy as np

import common
from keras_vae import conv_vae, set_threads, tf, train

if __name__ == "__main__":
    a = common.flags(__doc__, faces=True).parse_args()
    set_threads(a.threads)
    images = common.noise_images(a.images, (128, 128, 3), 1234)  # uint8, NHWC; converted in the step
    encoder, decoder = conv_vae(images.shape[1:], [2, 2, 2, 2], a.z_dim, batch_norm=True, dropout=True)
    # All weights, the batch norms' moving means and variances too, as Keras's count_params() does.
    parameters = int(sum(np.prod(w.shape) for w in encoder.weights + decoder.weights))
    common.report(a, "keras-tf-faces", "tensorflow", tf.__version__, 1, train(a, images, encoder, decoder),
                  z_dim=a.z_dim, parameters=parameters)

#!/usr/bin/env python3
"""Peer: the book's digits VAE (GDL_code chapter 3) in Keras on TensorFlow, the book's own framework.

  ~/venv-tf/bin/python launch/bench/peers/keras_vae.py --threads 1    # one thread (--threads 2: two)
Prints one JSON line like torch_vae.py: images/s over the timed steps, the mean loss and the settings.
Same model, data, loss and schedule as torch_vae.py; one process, TensorFlow's intra-op threads.
keras_faces.py reuses conv_vae(), set_threads() and train() from here.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: keep its start-up chatter out

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

import common


def set_threads(n):
    """n threads inside each op, one op at a time: the same cores a rank of ours gets. Must come before
    TensorFlow runs anything."""
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def conv_vae(shape, strides, z_dim, batch_norm=False, dropout=False):
    """The book's conv VAE as an encoder (image -> mu, log_var) and a decoder (z -> image), with the same
    strides down and up; batch norm keeps Keras's defaults (eps 1e-3, momentum 0.99), as the book does."""

    def block(h):  # conv, [batch norm], LeakyReLU, [dropout]: the book's order
        h = layers.BatchNormalization()(h) if batch_norm else h
        h = layers.LeakyReLU(0.3)(h)
        return layers.Dropout(0.25)(h) if dropout else h

    inp = keras.Input(shape)
    h = inp
    for c, s in zip([32, 64, 64, 64], strides):
        h = block(layers.Conv2D(c, 3, s, padding="same")(h))
    h = layers.Flatten()(h)
    encoder = keras.Model(inp, [layers.Dense(z_dim)(h), layers.Dense(z_dim)(h)])
    small = shape[0] // int(np.prod(strides))  # side of the innermost feature map
    z = keras.Input((z_dim,))
    h = layers.Reshape((small, small, 64))(layers.Dense(small * small * 64)(z))
    for i, (c, s) in enumerate(zip([64, 64, 32, shape[2]], strides)):
        h = layers.Conv2DTranspose(c, 3, s, padding="same")(h)
        h = block(h) if i < 3 else layers.Activation("sigmoid")(h)
    return encoder, keras.Model(z, h)


def train(a, images, encoder, decoder):
    """Trains on `images` (a NumPy array, uint8 or float in [0, 1]) on the common schedule; returns the
    clock with its time and losses."""
    opt = keras.optimizers.Adam(a.lr)
    weights = encoder.trainable_weights + decoder.trainable_weights

    @tf.function(jit_compile=False)  # traced once; no XLA, so it times TensorFlow's own (oneDNN) kernels
    def step(x):
        if x.dtype == tf.uint8:  # decided once, when traced: bytes are converted inside the graph
            x = tf.cast(x, tf.float32) / 255.0
        with tf.GradientTape() as tape:
            mu, log_var = encoder(x, training=True)
            z = mu + tf.exp(log_var / 2) * tf.random.normal(tf.shape(mu))
            y = decoder(z, training=True)
            r = tf.reduce_mean(tf.square(x - y), axis=[1, 2, 3]) * a.r_loss_factor
            kl = -0.5 * tf.reduce_sum(1 + log_var - tf.square(mu) - tf.exp(log_var), axis=1)
            loss = tf.reduce_mean(r + kl)
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    clock = common.Clock(a, len(images))
    for timed, batch in clock:
        loss = step(tf.constant(images[batch]))
        if timed:
            clock.losses.append(float(loss))  # reads the result, so each timed step has finished
    return clock


if __name__ == "__main__":
    a = common.flags(__doc__).parse_args()
    set_threads(a.threads)
    images = common.idx_images(a.data, a.limit)[..., np.newaxis]  # NHWC, Keras's layout
    encoder, decoder = conv_vae(images.shape[1:], [1, 2, 2, 1], a.z_dim)
    common.report(a, "keras-tf", "tensorflow", tf.__version__, 1, train(a, images, encoder, decoder))

"""Run by sphinx-gallery before each example of the gallery."""

import torch


def one_torch_thread(gallery_conf, fname):
    """Run torch on one thread: the examples' small nets gain nothing from more,
    and on a busy machine threads waiting for each other cost many times over."""
    torch.set_num_threads(1)

"""A literal port of Odonnat & Pham's training code, the test oracle for the package's ``wbce``,
``odonnat-pham`` schedule, ``batch_pooled_f1`` and ``random_split``.

Sources, copied operation by operation (their variable names), only wrapped into functions:

* ambroiseodt/BoundaryLoss, ``main.ipynb`` (commit c4096bd), section "Using Boundary Loss": the
  data rule, the split, the ``SliceSet`` distance maps, the loss cell of ``train``/``validation``,
  the α schedule and the validation F1;
* the code that notebook imports (``from losses import BoundaryLoss``, ``from dataloader import
  dist_map_transform``) from LIVIAETS/boundary-loss (commit 171c32d): ``utils.one_hot2dist``,
  ``utils.class2one_hot`` and its checks, ``dataloader.gt_transform``/``dist_map_transform``,
  ``losses.SurfaceLoss``.

Only changes: ``np.bool`` (removed in numpy 1.24) is ``bool``; ``SurfaceLoss.__init__`` no longer
prints ``Initialized SurfaceLoss with {'idc': [1]}``; ``transforms.Compose`` is a
three-line ``_compose``; their unseeded ``np.random.choice`` draws from ``np.random.RandomState(seed)``
(the same draw after ``np.random.seed(seed)``); their model's ``nn.Softmax()`` (implicit dim, which
torch resolves to 1 for a 4-D input) is written ``nn.Softmax(dim=1)``.
"""

from __future__ import annotations

from functools import partial
from operator import itemgetter

import numpy as np
import torch
import torch.nn as nn
from scipy.ndimage import distance_transform_edt as eucl_distance
from torch import Tensor, einsum
from torchmetrics import F1Score


# ------------------------------------------------- LIVIAETS/boundary-loss utils.py (their checks)
def uniq(a: Tensor) -> set:
    return set(torch.unique(a.cpu()).numpy())


def sset(a: Tensor, sub) -> bool:
    return uniq(a).issubset(sub)


def simplex(t: Tensor, axis=1) -> bool:
    _sum = t.sum(axis).type(torch.float32)
    _ones = torch.ones_like(_sum, dtype=torch.float32)
    return torch.allclose(_sum, _ones)


def one_hot(t: Tensor, axis=1) -> bool:
    return simplex(t, axis) and sset(t, [0, 1])


def class2one_hot(seg: Tensor, K: int) -> Tensor:
    assert sset(seg, list(range(K))), (uniq(seg), K)
    b, *img_shape = seg.shape
    device = seg.device
    res = torch.zeros((b, K, *img_shape), dtype=torch.int32, device=device).scatter_(1, seg[:, None, ...], 1)
    assert res.shape == (b, K, *img_shape)
    assert one_hot(res)
    return res


def one_hot2dist(seg: np.ndarray, resolution=None, dtype=None) -> np.ndarray:
    assert one_hot(torch.tensor(seg), axis=0)
    K: int = len(seg)

    res = np.zeros_like(seg, dtype=dtype)
    for k in range(K):
        posmask = seg[k].astype(bool)

        if posmask.any():
            negmask = ~posmask
            res[k] = eucl_distance(negmask, sampling=resolution) * negmask \
                - (eucl_distance(posmask, sampling=resolution) - 1) * posmask
        # The idea is to leave blank the negative classes
        # since this is one-hot encoded, another class will supervise that pixel

    return res


# --------------------------------------------------------- LIVIAETS/boundary-loss dataloader.py
def _compose(*fns):
    def run(x):
        for fn in fns:
            x = fn(x)
        return x
    return run


def gt_transform(resolution, K):
    return _compose(
        lambda img: np.array(img)[...],
        lambda nd: torch.tensor(nd, dtype=torch.int64)[None, ...],  # Add one dimension to simulate batch
        partial(class2one_hot, K=K),
        itemgetter(0),  # Then pop the element to go back to img shape
    )


def dist_map_transform(resolution, K):
    return _compose(
        gt_transform(resolution, K),
        lambda t: t.cpu().numpy(),
        partial(one_hot2dist, resolution=resolution),
        lambda nd: torch.tensor(nd, dtype=torch.float32),
    )


# ------------------------------------------------------------- LIVIAETS/boundary-loss losses.py
class SurfaceLoss():
    def __init__(self, **kwargs):
        # Self.idc is used to filter out some classes of the target mask. Use fancy indexing
        self.idc = kwargs["idc"]

    def __call__(self, probs: Tensor, dist_maps: Tensor) -> Tensor:
        assert simplex(probs)
        assert not one_hot(dist_maps)

        pc = probs[:, self.idc, ...].type(torch.float32)
        dc = dist_maps[:, self.idc, ...].type(torch.float32)

        multipled = einsum("bkwh,bkwh->bkwh", pc, dc)

        loss = multipled.mean()

        return loss


BoundaryLoss = SurfaceLoss


# ------------------------------------------------------------ ambroiseodt/BoundaryLoss main.ipynb
def keep_image(n_tumor: float) -> bool:
    """``dataset_df = database.loc[database['n_tumor'] < 0.1]`` (tumour images only: ``not_normal``)."""
    return n_tumor < 0.1


def split_cell(index, seed: int):
    """``train_idx = np.random.choice(dataset_df.index, size=int(0.8*len(dataset_df)), replace=False)``;
    ``val_idx = list(set(dataset_df.index) - set(train_idx))``."""
    train_idx = np.random.RandomState(seed).choice(index, size=int(0.8*len(index)), replace=False)
    val_idx = list(set(index) - set(train_idx))
    return train_idx, val_idx


def slice_set_targets(mask: np.ndarray):
    """``SliceSet.__getitem__`` after the resize: ``mask`` is the resized float mask in [0, 1]."""
    disttransform = dist_map_transform([1, 1], 2)
    mask_tensor = torch.tensor((mask > 0.5)).long()
    one_hot_tensor = torch.nn.functional.one_hot(mask_tensor)  # Usualy transform from png to one_hot encoding
    dist_map_tensor = disttransform(mask)
    one_hot_tensor = torch.moveaxis(one_hot_tensor, -1, 0).float()
    return one_hot_tensor, dist_map_tensor


def model_head(logits: Tensor) -> Tensor:
    """``model = nn.Sequential(smp.Unet(..., classes=2), nn.Softmax())``: the softmax over channels."""
    return nn.Softmax(dim=1)(logits)


def alpha_at(epoch: int, EPOCHS: int = 20) -> float:
    """``alpha = max(0, epoch/EPOCHS - 0.05)`` at the top of ``train(epoch)``, ``for epoch in
    range(1, EPOCHS + 1)``: ``epoch`` is 1-based."""
    return max(0, epoch/EPOCHS - 0.05)


def loss_terms(output: Tensor, mask: Tensor, dist_map_label: Tensor, pos_weight: float = 100):
    """The weighted CE and the boundary term of their ``loss = ...`` line (``output`` the softmax
    ``(B, 2, H, W)``, ``mask`` the one-hot float target, ``dist_map_label`` their ``one_hot2dist``)."""
    ce_loss = torch.nn.BCELoss(reduction='none')
    bound_loss = BoundaryLoss(idc=[1])
    weight = torch.ones_like(output)
    weight[mask == 1] = pos_weight
    return (ce_loss(output, mask) * weight).mean(), bound_loss(output, dist_map_label)


def loss_cell(output, mask, dist_map_label, alpha, rebalance: bool = True, pos_weight: float = 100):
    """``loss = (1 - alpha) * (ce_loss(output, mask) * weight).mean() + alpha * bound_loss(...)``
    (``rebalance=True``, the active line) or the commented-out line above it, ``(ce ...).mean() +
    alpha * bound_loss(...)`` (``rebalance=False``)."""
    ce, bl = loss_terms(output, mask, dist_map_label, pos_weight)
    if rebalance:
        return (1 - alpha) * ce + alpha * bl
    return ce + alpha * bl


def validation_f1(batches) -> Tensor:
    """``validation()``'s F1: ``f1 += f1_score(pred, gt)`` per batch of ``(output, mask)``, then
    ``f1 /= len(val_loader)``, with ``f1_score = F1Score(task='binary')``."""
    f1_score = F1Score(task='binary')
    f1 = 0
    n = 0
    for output, mask in batches:
        pred = torch.argmax(output, dim=1)
        gt = torch.argmax(mask, dim=1)
        f1 += f1_score(pred, gt)
        n += 1
    f1 /= n
    return f1

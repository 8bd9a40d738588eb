"""NDA: a GAN whose discriminator counts the collected anomalies as fake (Sinha et al., 2020)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import TrainingDivergedError
from ..nets import DCGANGenerator, MLPGenerator
from ..validation import check_fraction
from ._base import BaseDetector, batched, draw, eval_mode, minibatches
from ._nets import Discriminator, _is_table

__all__ = ["NDA"]


class NDA(BaseDetector):
    """NDA, negative data augmentation for GANs (Sinha et al., 2020; ICLR 2021), scored by its discriminator.

    **Assumes** that the negative samples lie off the support of the normal data (NDA's disjoint-support
    assumption) and that a discriminator trained to accept normal data and reject both generated samples
    and negatives rejects other anomalies too.  **Collected anomalies** are NDA's negative samples: D's
    fake class is the mixture lambda p_G + (1 - lambda) p_neg, i.e. the discriminator minimises
    BCE(D(x), real) + lambda BCE(D(G(z)), fake) + (1 - lambda) BCE(D(x_neg), fake), while G minimises the
    non-saturating BCE(D(G(z)), real).  (The original builds its negatives by transforming normal images
    -- jigsaw, cutout, ...; here, as in the AA-BiGAN paper, they are the collected anomalies.)  With no
    collected anomaly it is a plain GAN.  The score is -D(x), the negated logit of "x is normal data".
    Networks: AA-BiGAN's generators (DCGAN for images, MLP for tables; :mod:`aabigan.nets`) and its
    discriminator trunk without the latent input; Adam with the DCGAN settings (2e-4, betas 0.5, 0.999);
    the networks after the last epoch are scored.  ``neg_batch_size`` anomalies are drawn for each step.
    """

    trains_by_epochs = True

    def __init__(self, lam=0.5, epochs=100, batch_size=128, neg_batch_size=None, lr_g=2e-4, lr_d=2e-4, width=64,
                 latent_dim=None, contamination=0.1, device=None, random_state=None):
        self.lam = lam
        self.epochs = epochs
        self.batch_size = batch_size
        self.neg_batch_size = neg_batch_size
        self.lr_g = lr_g
        self.lr_d = lr_d
        self.width = width
        self.latent_dim = latent_dim
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    def _check_params(self):
        check_fraction(self.lam, "lam", 0.0, 1.0, inclusive_low=False)

    def _fit(self, X, y, seed):
        shape = self.sample_shape_
        if _is_table(shape):
            k = int(self.latent_dim or 16)
            G = MLPGenerator(shape[0], k)
        else:
            k = int(self.latent_dim or 100)
            G = DCGANGenerator(shape[0], k, int(self.width))
        D = Discriminator(shape, int(self.width))
        G, D = G.to(self.device_), D.to(self.device_)
        pos, neg = self._tensor(X[y == 0]), self._tensor(X[y == 1])
        opt_g = torch.optim.Adam(G.parameters(), lr=float(self.lr_g), betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=float(self.lr_d), betas=(0.5, 0.999))
        gen = self._generator(seed, 5)
        n_neg = int(self.neg_batch_size or max(1, int(self.batch_size) // 4)) if len(neg) else 0
        lam = float(self.lam) if len(neg) else 1.0
        bce = F.binary_cross_entropy_with_logits
        self.history_ = []
        self.generator_, self.discriminator_ = G, D
        G.train()
        D.train()
        for epoch in range(int(self.epochs)):
            sums, steps = [0.0, 0.0], 0
            for idx in minibatches(len(pos), int(self.batch_size), gen):
                x = pos[idx.to(self.device_)]
                z = torch.randn(len(x), k, generator=gen).to(self.device_)
                fake = G(z)
                parts = [x, fake.detach()] + ([neg[draw(len(neg), n_neg, gen).to(self.device_)]] if n_neg else [])
                d = D(torch.cat(parts))
                d_real, d_fake, d_neg = d[:len(x)], d[len(x):2 * len(x)], d[2 * len(x):]
                loss_d = bce(d_real, torch.ones_like(d_real)) + lam * bce(d_fake, torch.zeros_like(d_fake))
                if n_neg:
                    loss_d = loss_d + (1 - lam) * bce(d_neg, torch.zeros_like(d_neg))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                for p in D.parameters():
                    p.requires_grad_(False)
                d_gen = D(fake)
                loss_g = bce(d_gen, torch.ones_like(d_gen))
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                for p in D.parameters():
                    p.requires_grad_(True)
                sums[0] += loss_d.item()
                sums[1] += loss_g.item()
                steps += 1
            self.history_.append({"epoch": epoch + 1, "loss_d": sums[0] / steps, "loss_g": sums[1] / steps})
            if not all(math.isfinite(v) for v in sums):
                raise TrainingDivergedError(f"NDA: the losses became non-finite in epoch {epoch + 1}")
            self._end_epoch(epoch + 1)

    def _score(self, X):
        D = self.discriminator_
        with eval_mode(D):
            return batched(lambda x: -D(x), self._tensor(X))

"""RQ-VAE semantic identifiers (TIGER recipe) over item-text embeddings.

An MLP encoder maps a (standardised) text embedding to a small latent; ``levels`` codebooks quantise it
residually; an MLP decoder reconstructs the embedding. Training: a short autoencoder warm-up, then each
level's codebook is initialised by k-means on that level's residuals, then full RQ-VAE training
(reconstruction + codebook + commitment losses, straight-through gradients) with dead-code reset:
a code unused over the last epoch is moved onto a random residual of its level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.cluster import KMeans
from torch import nn

from genrec.errors import ConfigError
from genrec.io.files import atomic_path, read_json, write_json_atomic
from genrec.tokenizers.semantic import SemanticTokenizer, SequenceVectorFn
from genrec.tokenizers.text_embeddings import EmbedFn


@dataclass(frozen=True)
class RQVAEConfig:
    """Architecture and training schedule of the RQ-VAE."""

    levels: int = 3
    codebook_size: int = 256
    hidden: tuple[int, ...] = (512, 256, 128)
    latent_dim: int = 32
    warmup_epochs: int = 20
    epochs: int = 100
    batch_size: int = 512
    lr: float = 1e-3
    beta: float = 0.25
    reset_dead_codes: bool = True

    def __post_init__(self) -> None:
        for name in ("levels", "codebook_size", "latent_dim", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"rqvae.{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup_epochs < 0 or self.lr <= 0 or self.beta < 0:
            raise ConfigError("rqvae: warmup_epochs must be >= 0, lr > 0 and beta >= 0")


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class RQVAE(nn.Module):
    """Encoder, residual codebooks (levels, K, latent) and decoder."""

    def __init__(self, dim: int, config: RQVAEConfig) -> None:
        super().__init__()
        self.encoder = _mlp([dim, *config.hidden, config.latent_dim])
        self.decoder = _mlp([config.latent_dim, *reversed(config.hidden), dim])
        self.codebooks = nn.Parameter(torch.zeros(config.levels, config.codebook_size, config.latent_dim))

    def quantise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Residual quantisation of latents z (n, latent): codes (n, levels), z_q (n, latent), residuals."""
        residual = z
        z_q = torch.zeros_like(z)
        codes, residuals = [], []
        for book in self.codebooks:  # book: (K, latent)
            residuals.append(residual)
            idx = torch.cdist(residual.detach(), book.detach()).argmin(dim=1)  # (n,)
            q = book[idx]  # (n, latent)
            codes.append(idx)
            z_q = z_q + q
            residual = residual - q.detach()
        return torch.stack(codes, dim=1), z_q, residuals


class RQVAEQuantiser:
    """`Quantiser` backed by an `RQVAE`; inputs are standardised with the training mean and scale."""

    def __init__(self, config: RQVAEConfig | None = None) -> None:
        self.config = config or RQVAEConfig()
        self.levels = self.config.levels
        self.codebook_size = self.config.codebook_size
        self.model: RQVAE | None = None
        self.mean = np.zeros(0, dtype=np.float32)
        self.scale = 1.0

    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((x - self.mean) / self.scale).astype(np.float32))

    def _kmeans_init(self, model: RQVAE, x: torch.Tensor, seed: int) -> None:
        with torch.no_grad():
            residual = model.encoder(x)  # (n, latent)
            for level in range(self.levels):
                k = min(self.codebook_size, residual.shape[0])
                km = KMeans(k, n_init=1, max_iter=50, random_state=seed + level).fit(residual.numpy())
                centres = torch.from_numpy(km.cluster_centers_.astype(np.float32))  # (k, latent)
                if k < self.codebook_size:  # tiny catalogues: pad with jittered copies
                    extra = centres[torch.arange(self.codebook_size - k) % k]
                    centres = torch.cat([centres, extra + 1e-3 * torch.randn_like(extra)])
                model.codebooks[level].copy_(centres)
                idx = torch.cdist(residual, centres).argmin(dim=1)
                residual = residual - centres[idx]

    def fit(self, x: np.ndarray, seed: int) -> None:
        cfg = self.config
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.mean = x.mean(axis=0).astype(np.float32)
        self.scale = float(np.sqrt(((x - self.mean) ** 2).sum(axis=1).mean()) / np.sqrt(x.shape[1])) or 1.0
        data = self._inputs(x)  # (n, dim)
        n = data.shape[0]
        model = RQVAE(data.shape[1], cfg)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        for _ in range(cfg.warmup_epochs):  # plain autoencoder, so k-means sees meaningful latents
            for batch in torch.randperm(n, generator=gen).split(cfg.batch_size):
                loss = nn.functional.mse_loss(model.decoder(model.encoder(data[batch])), data[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self._kmeans_init(model, data, seed)
        for _ in range(cfg.epochs):
            usage = torch.zeros(self.levels, self.codebook_size)
            for batch in torch.randperm(n, generator=gen).split(cfg.batch_size):
                xb = data[batch]  # (b, dim)
                z = model.encoder(xb)  # (b, latent)
                codes, z_q, residuals = model.quantise(z)
                recon = model.decoder(z + (z_q - z).detach())  # straight-through estimator
                loss = nn.functional.mse_loss(recon, xb)
                for level, res in enumerate(residuals):
                    q = model.codebooks[level][codes[:, level]]  # (b, latent)
                    loss = loss + nn.functional.mse_loss(q, res.detach())
                    loss = loss + cfg.beta * nn.functional.mse_loss(res, q.detach())
                opt.zero_grad()
                loss.backward()
                opt.step()
                for level in range(self.levels):
                    usage[level] += torch.bincount(codes[:, level], minlength=self.codebook_size)
            if cfg.reset_dead_codes:
                self._reset_dead(model, data, usage, gen)
        model.eval()
        self.model = model

    def _reset_dead(
        self, model: RQVAE, data: torch.Tensor, usage: torch.Tensor, gen: torch.Generator
    ) -> None:
        with torch.no_grad():
            _, _, residuals = model.quantise(model.encoder(data))
            for level in range(self.levels):
                dead = (usage[level] == 0).nonzero().flatten()
                if len(dead) == 0:
                    continue
                pick = torch.randint(0, data.shape[0], (len(dead),), generator=gen)
                model.codebooks[level, dead] = residuals[level][pick]

    def _require(self) -> RQVAE:
        if self.model is None:
            raise ConfigError("RQ-VAE quantiser used before fit/load")
        return self.model

    @torch.no_grad()
    def codes(self, x: np.ndarray) -> np.ndarray:
        model = self._require()
        codes, _, _ = model.quantise(model.encoder(self._inputs(x)))
        return codes.numpy().astype(np.int64)  # (n, levels)

    @torch.no_grad()
    def last_level_distances(self, x: np.ndarray) -> np.ndarray:
        model = self._require()
        _, _, residuals = model.quantise(model.encoder(self._inputs(x)))
        return (torch.cdist(residuals[-1], model.codebooks[-1]) ** 2).numpy()  # (n, K)

    def save(self, directory: Path) -> None:
        model = self._require()
        tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
        tensors["input_mean"] = torch.from_numpy(self.mean)
        with atomic_path(directory / "rqvae.safetensors") as tmp:
            save_file(tensors, str(tmp))
        payload = {**asdict(self.config), "scale": self.scale}
        write_json_atomic(directory / "rqvae.json", payload)

    def load_state(self, directory: Path) -> None:
        payload = read_json(directory / "rqvae.json")
        self.scale = float(payload.pop("scale"))
        payload["hidden"] = tuple(payload["hidden"])
        self.config = RQVAEConfig(**payload)
        self.levels, self.codebook_size = self.config.levels, self.config.codebook_size
        tensors = load_file(str(directory / "rqvae.safetensors"))
        self.mean = tensors.pop("input_mean").numpy()
        model = RQVAE(self.mean.shape[0], self.config)
        model.load_state_dict(tensors)
        model.eval()
        self.model = model


class RQVAETokenizer(SemanticTokenizer):
    """Semantic IDs from an RQ-VAE (3 levels x 256 codes by default) plus a collision level."""

    name = "rqvae"

    def __init__(
        self,
        config: RQVAEConfig | None = None,
        embed: EmbedFn | None = None,
        spread: bool = True,
        source: str = "text",
        interaction_dim: int = 64,
        sasrec_epochs: int = 20,
        sequence_vectors: SequenceVectorFn | None = None,
    ) -> None:
        super().__init__(
            RQVAEQuantiser(config),
            embed=embed,
            spread=spread,
            source=source,
            interaction_dim=interaction_dim,
            sasrec_epochs=sasrec_epochs,
            sequence_vectors=sequence_vectors,
        )

    @classmethod
    def load(cls, directory: Path, embed: EmbedFn | None = None) -> RQVAETokenizer:
        tok = cls(embed=embed)
        tok._restore(directory)
        return tok

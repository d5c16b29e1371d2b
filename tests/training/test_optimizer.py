"""Weight decay goes to matrices only, and tied parameters are optimised once."""

from __future__ import annotations

import torch

from genrec.training.optimizer import weight_decay_groups


def test_matrices_decay_vectors_do_not_and_tied_weights_appear_once() -> None:
    embed = torch.nn.Embedding(10, 4)
    head = torch.nn.Linear(4, 10, bias=True)
    head.weight = embed.weight  # tied
    norm = torch.nn.LayerNorm(4)
    frozen = torch.nn.Linear(4, 4)
    frozen.requires_grad_(False)
    model = torch.nn.ModuleList([embed, head, norm, frozen])

    decay, no_decay = weight_decay_groups(model, 0.05)

    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert [id(p) for p in decay["params"]] == [id(embed.weight)]
    assert {id(p) for p in no_decay["params"]} == {id(head.bias), id(norm.weight), id(norm.bias)}

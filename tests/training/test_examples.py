"""Training examples: targets, packing, loss masks, length bucketing and sharding."""

from __future__ import annotations

import numpy as np

from genrec.training.examples import (
    IGNORE,
    ExampleBuilder,
    bucket_batches,
    collate,
    epoch_rng,
    shard_batches,
)

# item i -> tokens (10 + 2i, 11 + 2i): two identifier tokens per item
ITEM_IDS = [[10 + 2 * i, 11 + 2 * i] for i in range(10)]


def test_packed_sequence_has_loss_only_on_target_tokens() -> None:
    builder = ExampleBuilder(ITEM_IDS, max_history=20, prefix=[1])
    (ex,) = builder.build([[0, 1, 2]])
    assert ex.input_ids == [1, 10, 11, 12, 13, 14, 15]
    # item 0 is never a target (no history); items 1 and 2 are
    assert ex.labels == [IGNORE, IGNORE, IGNORE, 12, 13, 14, 15]
    assert ex.targets == 2


def test_last_n_and_sampled_targets() -> None:
    builder = ExampleBuilder(ITEM_IDS, max_history=20, prefix=[1])
    (last,) = builder.build([[0, 1, 2, 3]], mode="last_n", last_n=1)
    assert last.labels[-2:] == [16, 17] and set(last.labels[:-2]) == {IGNORE}
    a = builder.build([list(range(10))], mode="sampled", budget=3, rng=epoch_rng(0, 1))
    b = builder.build([list(range(10))], mode="sampled", budget=3, rng=epoch_rng(0, 1))
    c = builder.build([list(range(10))], mode="sampled", budget=3, rng=epoch_rng(0, 2))
    assert sum(e.targets for e in a) == 3
    assert [e.labels for e in a] == [e.labels for e in b]  # same (seed, epoch): same draw
    assert [e.labels for e in a] != [e.labels for e in c]


def test_long_sequences_are_windowed_to_max_history() -> None:
    builder = ExampleBuilder(ITEM_IDS, max_history=3, prefix=[1])
    examples = builder.build([list(range(10))])
    assert sum(e.targets for e in examples) == 9  # every prefix is trained exactly once
    for ex in examples:
        assert len(ex.input_ids) <= 1 + 2 * 4  # bos + at most max_history + 1 items


def test_unpacked_templates_give_one_example_per_target() -> None:
    builder = ExampleBuilder(ITEM_IDS, max_history=2, render=lambda hist: [7, *hist])
    examples = builder.build([[0, 1, 2, 3]])
    assert [e.input_ids for e in examples] == [[7, 0, 12, 13], [7, 0, 1, 14, 15], [7, 1, 2, 16, 17]]
    assert examples[2].labels == [IGNORE] * 3 + [16, 17]


def test_bucketing_keeps_padding_small_and_shards_are_disjoint() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 80, size=400).tolist()
    batches = bucket_batches(lengths, 16, np.random.default_rng(1))
    assert sorted(i for b in batches for i in b) == list(range(400))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.1 * sum(lengths)  # a random batching pads ~40 % here
    shards = [shard_batches(batches, r, 3) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    seen = [{i for b in s for i in b} for s in shards]
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2]) and not (seen[0] & seen[2])


def test_collate_pads_right_and_masks_padding_out_of_the_loss() -> None:
    builder = ExampleBuilder(ITEM_IDS, max_history=20, prefix=[1])
    examples = builder.build([[0, 1], [0, 1, 2]])
    batch = collate(examples, pad_token_id=0)
    assert batch["input_ids"].shape == (2, 7)
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 1, 1, 0, 0]
    assert batch["labels"][0, 5:].tolist() == [IGNORE, IGNORE]

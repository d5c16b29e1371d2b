"""The grounded beam search against exact answers, Hugging Face generate, and its guards."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from transformers import GenerationConfig, LlamaForCausalLM

from genrec.decoding import EmptyAllowedSetError, PrefixTrie, SearchConfig, grounded_beam_search
from genrec.errors import ConfigError

from .conftest import EOS, PAD, random_prompts, semantic_trie, title_trie


def exhaustive(
    model: LlamaForCausalLM,
    prompt: Sequence[int],
    trie: PrefixTrie,
    normalise: bool = False,
    temperature: float = 1.0,
) -> list[tuple[float, int]]:
    """Every item scored by a full forward pass of prompt + identifier (logits / temperature), best first."""
    scored = []
    with torch.no_grad():
        for item in trie.items:
            ids = list(trie.identifier(item))
            seq = torch.tensor([list(prompt) + ids])
            logp = torch.log_softmax(model(seq).logits[0].float() / temperature, -1)
            start = len(prompt) - 1
            total = sum(float(logp[start + j, tok]) for j, tok in enumerate(ids))
            scored.append((total / len(ids) if normalise else total, item))
    return sorted(scored, reverse=True)


@pytest.mark.parametrize("make_trie", [semantic_trie, title_trie])
def test_wide_beams_equal_exhaustive_enumeration(tiny_lm: LlamaForCausalLM, make_trie) -> None:  # type: ignore[no-untyped-def]
    trie = make_trie()
    prompts = random_prompts(3)
    config = SearchConfig(num_beams=len(trie), k=5, batch_size=3)
    results = grounded_beam_search(tiny_lm, prompts, trie, config, pad_token_id=PAD)
    for prompt, res in zip(prompts, results, strict=True):
        truth = exhaustive(tiny_lm, prompt, trie)[:5]
        assert list(res.items) == [item for _, item in truth]
        assert res.scores == pytest.approx([s for s, _ in truth], abs=1e-4)


def test_temperature_scores_with_tempered_log_probabilities(tiny_lm: LlamaForCausalLM) -> None:
    """A model trained on logits / T (training.loss_temperature) is searched with the same T."""
    trie = semantic_trie()
    prompts = random_prompts(6, seed=11)
    config = SearchConfig(num_beams=len(trie), k=5, batch_size=6, temperature=0.3)
    results = grounded_beam_search(tiny_lm, prompts, trie, config, pad_token_id=PAD)
    reordered = 0
    for prompt, res in zip(prompts, results, strict=True):
        truth = exhaustive(tiny_lm, prompt, trie, temperature=0.3)[:5]
        assert list(res.items) == [item for _, item in truth]
        assert res.scores == pytest.approx([s for s, _ in truth], abs=1e-4)
        reordered += [i for _, i in truth] != [i for _, i in exhaustive(tiny_lm, prompt, trie)[:5]]
    assert reordered, "the temperature should change some ranking on this toy model"


def test_length_normalisation_ranks_by_mean_log_probability(tiny_lm: LlamaForCausalLM) -> None:
    trie = title_trie()
    prompt = random_prompts(1, seed=5)[0]
    config = SearchConfig(num_beams=len(trie), k=4, length_normalization=True)
    (res,) = grounded_beam_search(tiny_lm, [prompt], trie, config)
    truth = exhaustive(tiny_lm, prompt, trie, normalise=True)[:4]
    assert list(res.items) == [item for _, item in truth]
    assert res.scores == pytest.approx([s for s, _ in truth], abs=1e-4)


def test_equals_hugging_face_constrained_beam_search(tiny_lm: LlamaForCausalLM) -> None:
    trie = semantic_trie()
    prompts = random_prompts(4, seed=3)
    beams, k = 6, 4
    ours = grounded_beam_search(tiny_lm, prompts, trie, SearchConfig(num_beams=beams, k=k, batch_size=4))
    for prompt, res in zip(prompts, ours, strict=True):
        n = len(prompt)

        def allowed(_batch: int, ids: torch.Tensor, n: int = n) -> list[int]:
            return trie.allowed_mask([ids[n:].tolist()])[0].nonzero().flatten().tolist()

        out = tiny_lm.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, n, dtype=torch.long),
            generation_config=GenerationConfig(
                num_beams=beams,
                num_return_sequences=k,
                do_sample=False,
                length_penalty=0.0,
                max_new_tokens=3,
                pad_token_id=PAD,
                eos_token_id=EOS,
                return_dict_in_generate=True,
                output_scores=True,
            ),
            prefix_allowed_tokens_fn=allowed,
        )
        hf_items = [trie.item_of(seq[n:].tolist()) for seq in out.sequences]
        assert list(res.items) == hf_items
        assert list(res.scores) == pytest.approx(out.sequences_scores.tolist(), abs=1e-4)


def test_batching_and_left_padding_do_not_change_results(tiny_lm: LlamaForCausalLM) -> None:
    trie = title_trie()
    prompts = random_prompts(5, seed=7)
    one = grounded_beam_search(tiny_lm, prompts, trie, SearchConfig(num_beams=5, k=3, batch_size=1))
    many = grounded_beam_search(tiny_lm, prompts, trie, SearchConfig(num_beams=5, k=3, batch_size=5))
    assert [r.items for r in one] == [r.items for r in many]
    for a, b in zip(one, many, strict=True):
        assert a.scores == pytest.approx(b.scores, abs=1e-4)


def test_history_exclusion_returns_k_new_items(tiny_lm: LlamaForCausalLM) -> None:
    trie = semantic_trie()
    prompts = random_prompts(3, seed=11)
    k = 4
    truth = [exhaustive(tiny_lm, p, trie) for p in prompts]
    # History: each prompt's 6 best items, so every one of the unconstrained top-k must be replaced.
    histories = [[item for _, item in t[:6]] for t in truth]
    config = SearchConfig(num_beams=len(trie), k=k, exclude_history=True)
    results = grounded_beam_search(tiny_lm, prompts, trie, config, histories=histories)
    for res, hist, t in zip(results, histories, truth, strict=True):
        assert len(res.items) == k
        assert not set(res.items) & set(hist)
        assert list(res.items) == [item for _, item in t[6 : 6 + k]]
    off = grounded_beam_search(
        tiny_lm, prompts, trie, SearchConfig(num_beams=len(trie), k=k, exclude_history=False), histories
    )
    assert [list(r.items) for r in off] == [[item for _, item in t[:k]] for t in truth]


def test_history_exclusion_with_narrow_beams_still_fills_k(tiny_lm: LlamaForCausalLM) -> None:
    trie = title_trie()
    prompt = random_prompts(1, seed=13)[0]
    ranked = [item for _, item in exhaustive(tiny_lm, prompt, trie)]
    history = ranked[:10]  # leaves exactly 4 items; beams = k = 4
    (res,) = grounded_beam_search(
        tiny_lm, [prompt], trie, SearchConfig(num_beams=4, k=4), histories=[history]
    )
    assert sorted(res.items) == sorted(ranked[10:])


def test_empty_allowed_set_raises(tiny_lm: LlamaForCausalLM) -> None:
    with pytest.raises(EmptyAllowedSetError, match="valid items remain"):
        grounded_beam_search(tiny_lm, [[3, 4]], PrefixTrie(60), SearchConfig(num_beams=2, k=1))
    trie = semantic_trie(5)
    with pytest.raises(EmptyAllowedSetError, match="prompt 1"):
        grounded_beam_search(
            tiny_lm, [[3], [4]], trie, SearchConfig(num_beams=2, k=2), histories=[[], trie.items[:4]]
        )


def test_empty_set_mid_search_raises(tiny_lm: LlamaForCausalLM, monkeypatch: pytest.MonkeyPatch) -> None:
    trie = semantic_trie(10)
    real = trie.children

    def broken(states: torch.Tensor):  # type: ignore[no-untyped-def]
        # A corrupted trie: non-root prefixes have no children.
        return real(torch.where(states > 0, torch.full_like(states, -1), states))

    monkeypatch.setattr(trie, "children", broken)
    with pytest.raises(EmptyAllowedSetError, match="no allowed next token"):
        grounded_beam_search(tiny_lm, [[3, 4]], trie, SearchConfig(num_beams=3, k=2))


def test_model_generation_config_is_ignored(tiny_lm: LlamaForCausalLM) -> None:
    trie = title_trie()
    prompts = random_prompts(3, seed=17)
    config = SearchConfig(num_beams=6, k=4)
    before = grounded_beam_search(tiny_lm, prompts, trie, config)
    saved = tiny_lm.generation_config
    tiny_lm.generation_config = GenerationConfig(
        do_sample=True, top_k=1, top_p=0.1, temperature=0.1, repetition_penalty=5.0, num_beams=1
    )
    try:
        after = grounded_beam_search(tiny_lm, prompts, trie, config)
    finally:
        tiny_lm.generation_config = saved
    assert before == after


def test_pad_token_equal_to_eos_is_harmless(tiny_lm: LlamaForCausalLM) -> None:
    trie = title_trie()
    prompts = random_prompts(4, seed=19)
    config = SearchConfig(num_beams=5, k=3, batch_size=4)
    a = grounded_beam_search(tiny_lm, prompts, trie, config, pad_token_id=PAD)
    b = grounded_beam_search(tiny_lm, prompts, trie, config, pad_token_id=EOS)
    assert [r.items for r in a] == [r.items for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert ra.scores == pytest.approx(rb.scores, abs=1e-5)
        assert all(trie.identifier(i)[-1] == EOS for i in ra.items)


def test_results_are_distinct_valid_and_sorted(tiny_lm: LlamaForCausalLM) -> None:
    trie = semantic_trie()
    for res in grounded_beam_search(tiny_lm, random_prompts(6, seed=23), trie, SearchConfig(5, 5)):
        assert len(set(res.items)) == 5
        assert all(i in trie for i in res.items)
        assert list(res.scores) == sorted(res.scores, reverse=True)


def test_thread_count_is_restored(tiny_lm: LlamaForCausalLM) -> None:
    before = torch.get_num_threads()
    grounded_beam_search(tiny_lm, [[3, 4]], semantic_trie(), SearchConfig(num_beams=3, k=2, num_threads=1))
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    "kwargs",
    [{"k": 0}, {"num_beams": 3, "k": 4}, {"batch_size": 0}, {"num_threads": 0}, {"temperature": 0.0}],
)
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        SearchConfig(**kwargs)  # type: ignore[arg-type]


def test_bad_inputs(tiny_lm: LlamaForCausalLM) -> None:
    with pytest.raises(ConfigError, match="at least one token"):
        grounded_beam_search(tiny_lm, [[]], semantic_trie(), SearchConfig(2, 1))
    with pytest.raises(ConfigError, match="histories"):
        grounded_beam_search(tiny_lm, [[3]], semantic_trie(), SearchConfig(2, 1), histories=[[], []])

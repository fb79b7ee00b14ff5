"""The captioner's prompt and the faithfulness rules for its training targets (pure python)."""

from __future__ import annotations

from anymo.caption.pairs import target_caption
from anymo.caption.prompt import MAX_LABELS, build_prompt, faithful_caption


def test_numeric_clauses_are_removed_and_the_sentence_stays_whole() -> None:
    assert faithful_caption("A person takes a walk slowly, at about 98 steps per minute.") == "A person takes a walk slowly."
    assert faithful_caption("An individual goes for a jog along a path, about 160 steps per minute.") == \
        "An individual goes for a jog along a path."
    assert faithful_caption("Someone sprints along fast at about 177 steps per minute.") == "Someone sprints along fast."
    assert faithful_caption("A person jogs gently forward.") == "A person jogs gently forward."  # nothing to remove


def test_targets_never_state_numbers_or_gender() -> None:
    for cap in ("A man takes a walk quickly, at about 121 steps per minute.", "A woman sits down on a chair."):
        t = target_caption(cap)
        assert not any(ch.isdigit() for ch in t)
        assert not t.startswith(("A man", "A woman")) and t.startswith("A person")


def test_prompt_carries_the_top_labels_in_order_and_known_placements_only() -> None:
    p = build_prompt(["walking", "running", "jogging", "cycling"], ["right_wrist", "unknown", "right_wrist", "left_front_pocket"])
    assert "Likely: walking, running, jogging." in p.after  # best first, at most MAX_LABELS
    assert "cycling" not in p.after and MAX_LABELS == 3
    assert "Worn on: right wrist, left front pocket." in p.after
    assert p.before.startswith("<|im_start|>user") and p.after.endswith("<|im_start|>assistant\n")
    empty = build_prompt([], ["unknown"])
    assert "Likely: unknown." in empty.after and "Worn on: unknown." in empty.after


def test_repeat_blocked_names_the_tokens_that_would_repeat_an_ngram() -> None:
    from anymo.caption.prompt import repeat_blocked

    assert repeat_blocked([1, 2, 3, 1, 2], 3) == [3]  # "1 2" seen before, followed by 3
    assert sorted(repeat_blocked([1, 2, 3, 1, 2, 4, 1, 2], 3)) == [3, 4]
    assert repeat_blocked([1, 2, 3], 3) == []  # "2 3" never seen before the end
    assert repeat_blocked([5, 5], 2) == [5]
    assert repeat_blocked([1, 2], 0) == [] and repeat_blocked([], 3) == []

"""The label vocabulary (editable, persisted) and the temporal smoothing of zero-shot scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.labels import UNCERTAIN, LabelSmoother, LabelVocabulary, check_label


def test_custom_labels_are_added_renamed_removed_and_survive_a_restart(tmp_path):
    path = tmp_path / "labels.json"
    vocab = LabelVocabulary(["walking", "sitting"], path)
    v0 = vocab.version
    vocab.add("  brushing   teeth ")
    vocab.add("physio: shoulder abduction")
    assert vocab.labels == ["walking", "sitting", "brushing teeth", "physio: shoulder abduction"]
    assert vocab.version == v0 + 2
    vocab.rename("brushing teeth", "flossing")
    vocab.remove("physio: shoulder abduction")
    assert json.loads(path.read_text()) == {"custom": ["flossing"]}
    again = LabelVocabulary(["walking", "sitting"], path)
    assert again.labels == ["walking", "sitting", "flossing"]


@pytest.mark.parametrize("bad, why", [("", "cannot be empty"), ("x" * 81, "at most 80"), ("uncertain", "reserved"),
                                      ("a\x00b", "printable"), (3, "must be text")])
def test_bad_labels_are_refused_with_the_reason(bad, why):
    with pytest.raises(ValueError, match=why):
        check_label(bad)


def test_duplicates_and_builtin_removal_are_refused(tmp_path):
    vocab = LabelVocabulary(["walking"], None)
    vocab.add("Running")
    with pytest.raises(ValueError, match="already"):
        vocab.add("running")
    with pytest.raises(ValueError, match="already"):
        vocab.add("WALKING")
    with pytest.raises(ValueError, match="default label"):
        vocab.remove("walking")
    with pytest.raises(KeyError, match="no custom label"):
        vocab.rename("swimming", "diving")


def test_an_unreadable_labels_file_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        LabelVocabulary(["walking"], path)
    assert path.read_text() == "{not json"


def _probs(labels, winner, p):
    out = np.full(len(labels), (1 - p) / (len(labels) - 1))
    out[labels.index(winner)] = p
    return out


def test_alternating_noisy_windows_do_not_flicker_but_a_real_change_is_followed():
    labels = ["walking", "sitting", "running"]
    sm = LabelSmoother(alpha=0.5, switch_margin=0.06)
    shown = []
    # walking, with every other window a near-tie that favours running by a hair
    for i in range(20):
        p = _probs(labels, "walking", 0.8) if i % 2 == 0 else np.array([0.44, 0.1, 0.46])
        shown.append(sm.update(labels, p).label)
    assert set(shown) == {"walking"}  # the raw argmax flips 10 times; the shown label never does
    changes = 0
    for _ in range(6):  # now really sitting
        r = sm.update(labels, _probs(labels, "sitting", 0.85))
        changes += r.changed
    assert r.label == "sitting" and changes == 1


def test_low_confidence_is_uncertain_with_hysteresis():
    labels = ["a", "b", "c", "d"]
    sm = LabelSmoother(alpha=1.0, uncertain_below=0.3, certain_above=0.4)
    assert sm.update(labels, _probs(labels, "a", 0.35)).label == UNCERTAIN  # first window: needs certain_above
    assert sm.update(labels, _probs(labels, "a", 0.45)).label == "a"
    assert sm.update(labels, _probs(labels, "a", 0.33)).label == "a"  # between the thresholds: keeps the label
    assert sm.update(labels, _probs(labels, "a", 0.28)).label == UNCERTAIN
    assert sm.update(labels, _probs(labels, "a", 0.38)).label == UNCERTAIN  # below certain_above: stays uncertain
    r = sm.update(labels, _probs(labels, "a", 0.5))
    assert r.label == "a" and r.changed


def test_a_label_added_mid_stream_is_scored_at_once_and_the_others_keep_their_history():
    sm = LabelSmoother(alpha=0.5)
    for _ in range(5):
        sm.update(["walking", "sitting"], np.array([0.9, 0.1]))
    r = sm.update(["walking", "sitting", "brushing teeth"], np.array([0.2, 0.1, 0.7]))
    assert r.scores["brushing teeth"] == pytest.approx(0.7)  # new: this window's value
    assert r.scores["walking"] == pytest.approx(0.5 * 0.2 + 0.5 * 0.9)  # history kept
    assert r.label == "brushing teeth"  # 0.70 leads walking's 0.55 by more than the switch margin
    r = sm.update(["walking", "sitting"], np.array([0.6, 0.4]))  # removed again: forgotten, no error
    assert "brushing teeth" not in r.scores and r.label == "walking"


def test_default_thresholds_follow_the_vocabulary_size():
    sm = LabelSmoother()
    assert sm.thresholds(10) == pytest.approx((0.4, 0.52))  # 6 x chance = 0.6, capped at 0.40
    assert sm.thresholds(20) == pytest.approx((0.30, 0.39))
    assert sm.thresholds(44) == pytest.approx((0.15, 0.195))  # 6/44 = 0.136, floored at 0.15
    labels = [f"l{i}" for i in range(44)]
    assert sm.update(labels, _probs(labels, "l3", 0.25)).label == "l3"  # 11x chance among 44 labels: a label
    sm.reset()
    assert sm.update(labels[:5], _probs(labels[:5], "l3", 0.25)).label == UNCERTAIN  # barely above chance of 5

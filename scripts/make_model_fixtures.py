#!/usr/bin/env python3
"""Recreate the model fixtures under test/fixtures/models/: tiny random Llama-family models and what
transformers computes with them.

The TypeScript model tests compare against these files and never run Python; rerun this script only
when the cases must change:

    /path/to/venv/bin/python scripts/make_model_fixtures.py

Written against torch 2.13 (CPU, float32) and transformers 5.18.

Each case is a folder with
  config.json, model.safetensors   the model as `save_pretrained` writes it (one case rewrites its
                                    config.json into the pre-transformers-5 `rope_theta` + `rope_scaling`
                                    form; its logits come from the model reloaded from that file)
  io.safetensors                   input_ids, attention_mask (int64), logits (float32) and, where the
                                    forward was given them, position_ids; labels (int64, -100 ignored) and
                                    loss (transformers' causal-LM loss, shape [1]), grad.<name> (its gradient
                                    for a few parameters, see GRAD_KEYS); `generated` for generation
  case.json                        what the case covers and how it was computed

Models are small (hidden 32, 2 layers, vocabulary 256, under 300 KB a case). Every parameter is
drawn at random after construction (weights N(0, 0.1), biases N(0, 0.1), norm weights 1 + N(0, 0.1)):
transformers' own init zeroes biases and sets norms to one, which would leave those code paths
untested.

With padding, position ids are passed explicitly as transformers' generate builds them
(cumsum(attention_mask) - 1, 0 at padding), which is what the TypeScript forward derives by default.
Logits at padded positions are compared too: they follow transformers' default (sdpa) attention,
where a query that sees no key (left padding) gets a zero attention output, and they enter the loss
wherever the next label is real.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "models"
VOCAB = 256

COMMON: dict[str, Any] = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    rms_norm_eps=1e-6,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
    dtype="float32",
)


def randomize(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * 0.1
            p.copy_(1 + noise if "norm" in name else noise)


def position_ids_for(mask: torch.Tensor) -> torch.Tensor:
    """transformers' GenerationMixin._prepare_position_ids_for_generation."""
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 0)


def build(config, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    randomize(model, seed)
    return model.eval()


def save_case(name: str, model: torch.nn.Module, tensors: dict[str, torch.Tensor], info: dict[str, Any],
              config_rewrite=None) -> None:
    folder = OUT / name
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    (folder / "generation_config.json").unlink(missing_ok=True)
    if config_rewrite is not None:
        path = folder / "config.json"
        cfg = json.loads(path.read_text())
        config_rewrite(cfg)
        path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "io.safetensors"))
    info = {"name": name, **info, "generated_with": {"torch": torch.__version__, "transformers": __import__("transformers").__version__}}
    (folder / "case.json").write_text(json.dumps(info, indent=2) + "\n")
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 300_000, f"{name}: {size} bytes"
    print(f"{name}: {size // 1024} KB")


# Gradients of the loss stored for these parameters (where the model has them), as grad.<name>.
GRAD_KEYS = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_norm.weight",
             "model.layers.1.mlp.down_proj.weight", "model.norm.weight"]


def loss_and_grads(model: torch.nn.Module, **inputs) -> tuple[Any, dict[str, torch.Tensor]]:
    params = dict(model.named_parameters())
    with torch.enable_grad():
        model.zero_grad()
        out = model(**inputs)
        out.loss.backward()
    grads = {f"grad.{k}": params[k].grad.detach().clone() for k in GRAD_KEYS if k in params}
    return out, grads


def random_ids(seed: int, batch: int, seq: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB, (batch, seq), generator=g)


@torch.no_grad()
def logits_case(name: str, config, seed: int, info: dict[str, Any], batch: int = 2, seq: int = 12,
                config_rewrite=None) -> None:
    model = build(config, seed)
    ids = random_ids(seed + 1, batch, seq)
    mask = torch.ones_like(ids)
    if config_rewrite is not None:
        # Save, rewrite, reload: the logits are what transformers computes from the rewritten file.
        tmp = OUT / f".{name}.tmp"
        model.save_pretrained(tmp)
        cfg_path = tmp / "config.json"
        cfg = json.loads(cfg_path.read_text())
        config_rewrite(cfg)
        cfg_path.write_text(json.dumps(cfg))
        model = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32).eval()
        shutil.rmtree(tmp)
    labels = ids.clone()
    labels[:, : seq // 3] = -100  # a prompt part without loss, as in instruction tuning
    out, grads = loss_and_grads(model, input_ids=ids, attention_mask=mask, labels=labels)
    save_case(name, model, {"input_ids": ids, "attention_mask": mask, "labels": labels, "logits": out.logits.detach(),
                            "loss": out.loss.detach().reshape(1), **grads},
              info, config_rewrite)


@torch.no_grad()
def padded_case(name: str, config, seed: int, side: str, lengths: list[int], seq: int) -> None:
    model = build(config, seed)
    ids = random_ids(seed + 1, len(lengths), seq)
    mask = torch.zeros_like(ids)
    for b, n in enumerate(lengths):
        if side == "left":
            mask[b, seq - n:] = 1
        else:
            mask[b, :n] = 1
    ids = ids.masked_fill(mask == 0, COMMON["pad_token_id"])
    pos = position_ids_for(mask)
    labels = ids.masked_fill(mask == 0, -100)
    out, grads = loss_and_grads(model, input_ids=ids, attention_mask=mask, position_ids=pos, labels=labels)
    save_case(name, model, {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "labels": labels,
                            "logits": out.logits.detach(), "loss": out.loss.detach().reshape(1), **grads},
              {"covers": f"{side}-padded batch (real lengths {lengths}), position ids from the mask",
               "padding": side})


@torch.no_grad()
def generation_case(name: str, config, seed: int) -> None:
    model = build(config, seed)
    prompts = [random_ids(seed + 1, 1, 7)[0].tolist(), random_ids(seed + 2, 1, 4)[0].tolist()]
    width = max(len(p) for p in prompts)
    pad = COMMON["pad_token_id"]
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    kwargs = dict(attention_mask=mask, do_sample=False, max_new_tokens=8, pad_token_id=pad)
    free = model.generate(ids, eos_token_id=None, **kwargs)
    # Stop row 0 early: its 4th new token becomes the EOS id, so the row is padded afterwards.
    eos = int(free[0, width + 3])
    out = model.generate(ids, eos_token_id=eos, **kwargs)
    # The same prompts without a cache, token by token: must give the same tokens.
    nocache = model.generate(ids, eos_token_id=eos, use_cache=False, **kwargs)
    assert torch.equal(out, nocache)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_for(mask)).logits
    save_case(name, model, {"input_ids": ids, "attention_mask": mask, "logits": logits.float(), "generated": out,
                            "generated_no_eos": free},
              {"covers": "greedy generate(do_sample=False, max_new_tokens=8) on a left-padded batch",
               "eos_token_id": eos, "pad_token_id": pad, "max_new_tokens": 8, "padding": "left",
               "note": "generated: with eos_token_id (row 0 stops after 4 new tokens, then pad); generated_no_eos: eos_token_id=None"})


def legacy_rope(theta: float, scaling: dict[str, Any]):
    """Rewrite transformers 5's rope_parameters as the older rope_theta + rope_scaling keys."""
    def rewrite(cfg: dict[str, Any]) -> None:
        cfg.pop("rope_parameters", None)
        cfg["rope_theta"] = theta
        cfg["rope_scaling"] = scaling
    return rewrite


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    logits_case("mistral-sliding", MistralConfig(**COMMON, sliding_window=5, tie_word_embeddings=False), 10,
                {"covers": "Mistral: no biases, sliding window 5 over 12 tokens, untied head"})
    logits_case("qwen3-qknorm", Qwen3Config(**COMMON, head_dim=16, tie_word_embeddings=True), 20,
                {"covers": "Qwen3: q_norm/k_norm over head_dim, explicit head_dim 16 (hidden/heads is 8), tied head"})
    logits_case("qwen3-sliding-layers", Qwen3Config(**COMMON, head_dim=8, use_sliding_window=True, sliding_window=3,
                                                     max_window_layers=1, attention_bias=True), 25,
                {"covers": "Qwen3: attention_bias, use_sliding_window with layer 1 sliding (window 3), layer 0 full"})
    logits_case("qwen2-bias", Qwen2Config(**COMMON, tie_word_embeddings=False), 30,
                {"covers": "Qwen2: q/k/v biases (no o_proj bias), untied head"})
    logits_case("llama-untied-bias", LlamaConfig(**COMMON, tie_word_embeddings=False, attention_bias=True, mlp_bias=True), 40,
                {"covers": "Llama: untied lm_head, attention_bias and mlp_bias"})
    llama3 = dict(rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                  original_max_position_embeddings=16)
    logits_case("llama-rope-llama3", LlamaConfig(**COMMON, head_dim=8, rope_parameters=llama3), 50,
                {"covers": "rope_type llama3 (original context 16: one frequency smoothed, the rest divided by 8)"})
    logits_case("llama-rope-linear-legacy", LlamaConfig(**COMMON), 60,
                {"covers": "rope_scaling {type: linear, factor 4} with rope_theta 5000, in the pre-transformers-5 config keys"},
                config_rewrite=legacy_rope(5000.0, {"type": "linear", "factor": 4.0}))
    logits_case("llama-rope-dynamic", LlamaConfig(**{**COMMON, "max_position_embeddings": 16},
                                                  rope_parameters=dict(rope_type="dynamic", rope_theta=10000.0, factor=2.0)), 70,
                {"covers": "rope_type dynamic: 24 tokens with max_position_embeddings 16, so the base is rescaled"}, seq=24)
    padded_case("llama-left-pad", LlamaConfig(**COMMON), 80, "left", [10, 6, 3], 10)
    padded_case("qwen2-right-pad", Qwen2Config(**COMMON), 90, "right", [10, 7, 2], 10)
    generation_case("llama-generate", LlamaConfig(**COMMON), 100)


if __name__ == "__main__":
    main()

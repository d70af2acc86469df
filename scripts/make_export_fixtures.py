#!/usr/bin/env python3
"""Recreate the export fixtures under test/fixtures/export/: tiny random models with real tokenizers,
one per architecture, that the ONNX (transformers.js) and GGUF (llama.cpp) export tests run.

The TypeScript tests never run Python; rerun this script only when the cases must change:

    /path/to/venv/bin/python scripts/make_export_fixtures.py

Written against torch 2.13 (CPU, float32), transformers 5.18, tokenizers 0.23 and peft 0.21.

Tokenizers (folders under tokenizers/):
  smollm/  the byte-level BPE of test/fixtures/tokenizers/chatml (SmolLM2's layout: Digits +
           ByteLevel pre-tokenizer, ChatML special tokens and chat template), which llama.cpp
           reads as tokenizer.ggml.pre "smollm"
  qwen2/   a byte-level BPE trained here on the same self-written text with Qwen2's pre-tokenizer
           (its Split regex + ByteLevel without regex, NFC normalizer), which llama.cpp reads as "qwen2"

Models (hidden 32, intermediate 64, 2 layers, 4 heads over 2 key/value heads, vocabulary the tokenizer's): llama (smollm tokenizer, tied
head), mistral (smollm tokenizer, sliding window 6), qwen2 (qwen2 tokenizer, q/k/v biases, untied
head), qwen3 (qwen2 tokenizer, q/k norms, head_dim 24). Weights are N(0, 0.15), norms 1 + N(0, 0.1):
wide enough logits that greedy decoding has no near-ties for two runtimes to break differently.

Adapter: llama-miss/ is a MiSS adapter (r 8, q_proj + v_proj + down_proj, random blocks) for the
llama model, as PEFT saves it; merged-logits.safetensors holds PEFT's logits of the merged model on
`input_ids`, for the export-with-adapter test.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from peft import MissConfig, get_peft_model
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, GenerationConfig, LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "export"
sys.path.insert(0, str(ROOT / "scripts"))
from make_tokenizer_fixtures import CORPUS  # noqa: E402

# Qwen2's tokenizer.json pre-tokenizer pattern.
QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def smollm_tokenizer(folder: Path) -> int:
    src = ROOT / "test" / "fixtures" / "tokenizers" / "chatml"
    folder.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(src / name, folder / name)
    return len(json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"])


def qwen2_tokenizer(folder: Path) -> int:
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=[], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(list(CORPUS) * 4, trainer)
    # Qwen's special tokens come after the learned vocabulary.
    tok.add_special_tokens(specials)
    folder.mkdir(parents=True)
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "add_prefix_space": False, "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "unk_token": None, "chat_template": CHATML_TEMPLATE, "clean_up_tokenization_spaces": False,
        "errors": "replace", "model_max_length": 32768, "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return tok.get_vocab_size()


def randomize(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.1 * noise if "norm" in name else 0.15 * noise)


def save_model(name: str, config, tokenizer: Path, seed: int, eos: int, bos: int | None) -> torch.nn.Module:
    folder = OUT / name
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval()
    randomize(model, seed)
    model.save_pretrained(folder)
    GenerationConfig(bos_token_id=bos, eos_token_id=eos, pad_token_id=config.pad_token_id).save_pretrained(folder)
    for f in tokenizer.iterdir():
        shutil.copy(f, folder / f.name)
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 250_000, f"{name}: {size} bytes"
    print(f"{name}: {size // 1024} KB")
    return model


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    smollm, qwen2 = OUT / "tokenizers" / "smollm", OUT / "tokenizers" / "qwen2"
    n_smollm = smollm_tokenizer(smollm)
    n_qwen2 = qwen2_tokenizer(qwen2)
    print(f"tokenizers: smollm {n_smollm}, qwen2 {n_qwen2} tokens")
    common = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=256, rms_norm_eps=1e-5, dtype="float32")
    llama = save_model("llama", LlamaConfig(vocab_size=n_smollm, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                                            pad_token_id=None, **common), smollm, seed=11, eos=2, bos=1)
    save_model("mistral", MistralConfig(vocab_size=n_smollm, sliding_window=6, bos_token_id=1, eos_token_id=2, pad_token_id=None,
                                        tie_word_embeddings=False, **common), smollm, seed=12, eos=2, bos=1)
    qwen_ids = dict(bos_token_id=None, eos_token_id=n_qwen2 - 1, pad_token_id=n_qwen2 - 3)
    save_model("qwen2", Qwen2Config(vocab_size=n_qwen2, tie_word_embeddings=False, **qwen_ids, **common), qwen2, seed=13,
               eos=n_qwen2 - 1, bos=None)
    save_model("qwen3", Qwen3Config(vocab_size=n_qwen2, head_dim=24, tie_word_embeddings=True, **qwen_ids, **common), qwen2,
               seed=14, eos=n_qwen2 - 1, bos=None)

    # A MiSS adapter on the llama model, with every block random (PEFT initialises them to zero).
    peft = get_peft_model(llama, MissConfig(r=8, target_modules=["q_proj", "v_proj", "down_proj"], init_weights=True))
    g = torch.Generator().manual_seed(21)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "miss_block" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    adapter = OUT / "llama-miss"
    peft.save_pretrained(adapter)
    (adapter / "README.md").unlink()
    ids = torch.tensor([[1, 40, 71, 33, 200, 9, 301, 64]])
    logits = peft(input_ids=ids).logits
    merged = peft.merge_and_unload()
    merged_logits = merged(input_ids=ids).logits
    assert torch.allclose(logits, merged_logits, atol=1e-5)
    save_file({"input_ids": ids, "logits": merged_logits.contiguous()}, str(adapter / "merged-logits.safetensors"))
    print(f"llama-miss: {sum(f.stat().st_size for f in adapter.iterdir()) // 1024} KB")


if __name__ == "__main__":
    main()

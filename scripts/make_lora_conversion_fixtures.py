#!/usr/bin/env python3
"""Recreate test/fixtures/lora-conversion/: what PEFT 0.21's `convert_to_lora` / `save_as_lora`
(peft.tuners.lora.conversion) make of the MiSS and Bone reference adapters, and what PEFT computes
with the result.

The TypeScript tests never run Python; rerun this script only when the cases must change:

    /path/to/venv/bin/python scripts/make_lora_conversion_fixtures.py

Written against torch 2.13 (CPU, float32), transformers 5.18 and peft 0.21.

Each case folder holds
  lora/ (lora-<rank>/ for bat)    the LoRA adapter exactly as save_as_lora writes it (several adapters:
                                  the default in the folder, the others in subfolders, as PEFT saves them)
  io.safetensors                  input_ids (the reference case's), logits_adapter (PEFT's logits with the
                                  MiSS adapter), logits_lora[-<rank>] (PEFT's logits with the converted LoRA
                                  loaded by PeftModel.from_pretrained)
  case.json                       the source, the ranks, and for bat PEFT's relative reconstruction error
                                  ‖ΔW − B·A‖_F / ‖ΔW‖_F of every layer at every rank

Cases come from test/fixtures/reference (base models and adapters saved by PEFT), except
llama-extras, made here on the llama-miss-default base: a MiSS adapter with layers_to_transform [1]
and modules_to_save ["lm_head"], and a second adapter (r 4, same layers) in a subfolder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch
from peft import MissConfig, PeftModel, get_peft_model
from peft.tuners.lora.conversion import convert_to_lora, save_as_lora
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "test" / "fixtures" / "reference"
OUT = ROOT / "test" / "fixtures" / "lora-conversion"


def base_model(case: str) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(REF / case / "base", dtype=torch.float32).eval()


def input_ids(case: str) -> torch.Tensor:
    return load_file(str(REF / case / "io.safetensors"))["input_ids"]


@torch.no_grad()
def logits_of(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    return model(input_ids=ids).logits.contiguous()


def clean(folder: Path) -> None:
    for readme in folder.rglob("README.md"):
        readme.unlink()


@torch.no_grad()
def lora_logits(case: str, folder: Path, ids: torch.Tensor, adapter: str | None = None) -> torch.Tensor:
    model = PeftModel.from_pretrained(base_model(case), folder)
    if adapter is not None:
        model.load_adapter(folder / adapter, adapter_name=adapter)
        model.set_adapter(adapter)
    return logits_of(model.eval(), ids)


def exact_case(name: str, source: str, rank: int, adapter_dir: Path | None = None) -> None:
    out = OUT / name
    ids = input_ids(source)
    peft = PeftModel.from_pretrained(base_model(source), adapter_dir or REF / source / "adapter").eval()
    tensors = {"input_ids": ids, "logits_adapter": logits_of(peft, ids)}
    save_as_lora(out / "lora", peft, rank=rank)
    clean(out)
    tensors["logits_lora"] = lora_logits(source, out / "lora", ids)
    save_file(tensors, str(out / "io.safetensors"))
    (out / "case.json").write_text(json.dumps({"source": source, "rank": rank}, indent=2) + "\n")
    print(name, "max |Δlogits| LoRA vs MiSS:", float((tensors["logits_lora"] - tensors["logits_adapter"]).abs().max()))


def bone_legacy_as_miss(tmp: Path) -> Path:
    """PEFT 0.21 has no Bone: the legacy adapter as PEFT's convert-bone-to-miss.py makes it."""
    src = REF / "llama-bone-legacy" / "adapter"
    config = json.loads((src / "adapter_config.json").read_text())
    config["peft_type"] = "MISS"
    (tmp / "adapter_config.json").write_text(json.dumps(config))
    weights = {k.replace(".bone_", ".miss_"): v for k, v in load_file(str(src / "adapter_model.safetensors")).items()}
    save_file(weights, str(tmp / "adapter_model.safetensors"), metadata={"format": "pt"})
    return tmp


@torch.no_grad()
def bat_case(ranks: list[int | float]) -> None:
    source = "llama-miss-bat"
    out = OUT / source
    ids = input_ids(source)
    peft = PeftModel.from_pretrained(base_model(source), REF / source / "adapter").eval()
    tensors = {"input_ids": ids, "logits_adapter": logits_of(peft, ids)}
    deltas = {}
    for name, module in peft.named_modules():
        if hasattr(module, "miss_block") and "default" in module.miss_block:
            w = module.get_base_layer().weight.data
            deltas[name] = module.get_delta_weight("default", w.clone()).float()
    errors: dict[str, dict[str, float]] = {}
    effective: dict[str, dict[str, int]] = {}
    for rank in ranks:
        tag = str(rank)
        _, state = convert_to_lora(peft, rank=rank)
        errors[tag], effective[tag] = {}, {}
        for name, delta in deltas.items():
            a, b = state[f"{name}.lora_A.weight"], state[f"{name}.lora_B.weight"]
            errors[tag][name.removeprefix("base_model.model.")] = float(torch.linalg.norm(delta - b @ a) / torch.linalg.norm(delta))
            effective[tag][name.removeprefix("base_model.model.")] = a.shape[0]
        save_as_lora(out / f"lora-{tag}", peft, rank=rank)
        tensors[f"logits_lora-{tag}"] = lora_logits(source, out / f"lora-{tag}", ids)
    clean(out)
    save_file(tensors, str(out / "io.safetensors"))
    (out / "case.json").write_text(json.dumps({"source": source, "ranks": ranks, "relative_error": errors, "effective_rank": effective}, indent=2) + "\n")
    for tag in errors:
        gap = float((tensors[f"logits_lora-{tag}"] - tensors["logits_adapter"]).abs().max())
        print(f"{source} rank {tag}: max error {max(errors[tag].values()):.3e}, max |Δlogits| {gap:.3e}")


@torch.no_grad()
def extras_case() -> None:
    """layers_to_transform, modules_to_save and a second adapter, built on the llama-miss-default base."""
    source = "llama-miss-default"
    out = OUT / "llama-extras"
    ids = input_ids(source)
    g = torch.Generator().manual_seed(31)
    model = base_model(source)
    peft = get_peft_model(model, MissConfig(r=8, target_modules=["q_proj", "v_proj"], layers_to_transform=[1], layers_pattern="layers",
                                            modules_to_save=["lm_head"]))
    # PEFT's convert_to_lora visits every adapter layer, so both adapters must sit on the same layers; and
    # PEFT keeps one mode per layer (miss_fn), so both use the default mode.
    peft.add_adapter("second", MissConfig(r=4, target_modules=["q_proj", "v_proj"], layers_to_transform=[1], layers_pattern="layers"))
    for name, p in peft.named_parameters():
        if "miss_block" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
        if "modules_to_save.default" in name:
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    peft.eval()
    with tempfile.TemporaryDirectory() as tmp:
        peft.save_pretrained(tmp)
        adapter = out / "adapter"
        shutil.copytree(tmp, adapter)
    tensors = {"input_ids": ids}
    peft.set_adapter("default")
    tensors["logits_adapter"] = logits_of(peft, ids)
    peft.set_adapter("second")
    tensors["logits_adapter.second"] = logits_of(peft, ids)
    save_as_lora(out / "lora", peft, rank=8, adapter_name="default")
    save_as_lora(out / "lora" / "second", peft, rank=4, adapter_name="second")
    clean(out)
    tensors["logits_lora"] = lora_logits(source, out / "lora", ids)
    tensors["logits_lora.second"] = lora_logits(source, out / "lora", ids, adapter="second")
    save_file(tensors, str(out / "io.safetensors"))
    (out / "case.json").write_text(json.dumps({"source": source, "rank": {"default": 8, "second": 4}}, indent=2) + "\n")
    for tag in ("", ".second"):
        print(f"llama-extras{tag}: max |Δlogits| LoRA vs MiSS:", float((tensors[f"logits_lora{tag}"] - tensors[f"logits_adapter{tag}"]).abs().max()))


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    exact_case("llama-miss-default", "llama-miss-default", 8)
    exact_case("llama-miss-mini", "llama-miss-mini", 8)
    exact_case("llama-miss-pad", "llama-miss-pad", 16)
    exact_case("qwen2-miss-all-linear", "qwen2-miss-all-linear", 16)
    with tempfile.TemporaryDirectory() as tmp:
        exact_case("llama-bone-legacy", "llama-bone-legacy", 8, adapter_dir=bone_legacy_as_miss(Path(tmp)))
    bat_case([2, 8, 32, 0.9])
    extras_case()
    print(f"{sum(f.stat().st_size for f in OUT.rglob('*') if f.is_file()) // 1024} KB")


if __name__ == "__main__":
    main()

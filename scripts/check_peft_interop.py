"""Checks that an adapter written by bone-peft loads in Python PEFT and gives the same logits.

Usage (with the offline Python env that has torch, transformers, peft, safetensors):
    node --import tsx scripts/adapter-logits.ts BASE_DIR ADAPTER_DIR /tmp/bone-logits.safetensors
    python scripts/check_peft_interop.py BASE_DIR ADAPTER_DIR /tmp/bone-logits.safetensors

Loads BASE_DIR with transformers, the adapter with PeftModel.from_pretrained (MissConfig, BoneConfig
on PEFT < 0.19, or LoraConfig, as its adapter_config.json says), runs the same input_ids and compares
with bone-peft's logits. Exits 1 if the largest absolute difference is 1e-4 or more.
"""
import sys
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from peft import PeftModel, __version__ as peft_version

base, adapter, logits_file = sys.argv[1:4]
ref = load_file(logits_file)
model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
peft_model = PeftModel.from_pretrained(model, adapter).eval()
with torch.no_grad():
    logits = peft_model(input_ids=ref['input_ids']).logits
diff = (logits - ref['logits']).abs().max().item()
print(f'peft {peft_version}, {type(peft_model.peft_config["default"]).__name__}: max |logits difference| = {diff:.3e}')
sys.exit(0 if diff < 1e-4 else 1)

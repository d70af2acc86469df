"""Checks that a model folder written by bone-peft's savePretrained loads in transformers with the
same logits.

Usage (with the offline Python env that has torch, transformers and safetensors):
    node --import tsx scripts/check_transformers_load.ts SOURCE OUT_DIR LOGITS.safetensors [MAX_SHARD_SIZE]
    python scripts/check_transformers_load.py OUT_DIR LOGITS.safetensors

Loads OUT_DIR with AutoModelForCausalLM.from_pretrained (float32), requires that no weight was missing,
unexpected or mismatched, that a tied head really shares the embedding, and that the logits on the
saved input_ids are within 1e-4 of bone-peft's. Exits 1 otherwise.
"""
import sys

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

folder, logits_file = sys.argv[1:3]
ref = load_file(logits_file)
model, info = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, output_loading_info=True)
model.eval()
problems = {k: v for k, v in info.items() if v}
tied = model.config.tie_word_embeddings
shares = model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
with torch.no_grad():
    logits = model(input_ids=ref['input_ids']).logits
diff = (logits - ref['logits']).abs().max().item()
ok = not problems and shares == tied and diff < 1e-4
print(
    f'transformers {transformers.__version__}: {type(model).__name__} from {folder}: '
    f'loading problems {problems or "none"}, tied head {"shared" if shares else "separate"} '
    f'(tie_word_embeddings={tied}), max |logits difference| = {diff:.3e} -> {"OK" if ok else "FAIL"}'
)
sys.exit(0 if ok else 1)

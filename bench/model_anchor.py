"""The transformers (torch) anchor of bench/model.bench.ts: the same measurements on the same model
folder, in a fresh process per call. Prints one line `RESULT {json}`.

    python bench/model_anchor.py load FOLDER THREADS
    python bench/model_anchor.py run FOLDER THREADS FORWARD_ITERS GENERATE_ITERS BATCH SEQ PROMPT NEW_TOKENS

The model is loaded as float32 (from_pretrained(dtype=torch.float32)), as bone-peft loads it; forward and
generation run under torch.inference_mode with torch.set_num_threads(THREADS). Token ids come from
torch's generator (the TypeScript side draws its own; random ids cost the same).
"""
import json
import resource
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

mode, folder, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)


def rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


rss_before = rss_mib()
t0 = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
load_ms = (time.perf_counter() - t0) * 1000
result = {'loadMs': load_ms, 'rssBeforeMiB': rss_before, 'peakRssMiB': peak_rss_mib(),
          'params': model.num_parameters(), 'torch': torch.__version__, 'transformers': transformers.__version__,
          'threads': torch.get_num_threads()}

if mode == 'run':
    forward_iters, generate_iters, batch, seq, prompt_len, new_tokens = map(int, sys.argv[4:10])
    g = torch.Generator().manual_seed(7)
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    forward_ms = []
    with torch.inference_mode():
        for _ in range(forward_iters + 1):
            t = time.perf_counter()
            model(input_ids=ids).logits
            forward_ms.append((time.perf_counter() - t) * 1000)
        prompt = torch.randint(0, vocab, (1, prompt_len), generator=g)
        generate_ms = []
        for _ in range(generate_iters + 1):
            t = time.perf_counter()
            out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                                 min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
            generate_ms.append((time.perf_counter() - t) * 1000)
    result.update({'peakRssMiB': peak_rss_mib(), 'forwardFirstMs': forward_ms[0], 'forwardMs': forward_ms[1:],
                   'generateFirstMs': generate_ms[0], 'generateMs': generate_ms[1:],
                   'newTokens': out.shape[1] - prompt_len})

print('RESULT ' + json.dumps(result), flush=True)

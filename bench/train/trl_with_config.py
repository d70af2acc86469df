"""Runs ../shared/anchors/trl_sft_anchor.py with some SFTConfig fields set, for comparisons beyond TRL's defaults.

Usage: python trl_with_config.py '{"bf16": false, "gradient_checkpointing": false}' path/to/trl_sft_anchor.py [its flags]

On CPU, SFTConfig's defaults are bf16=True (autocast to bfloat16) and gradient_checkpointing=True. On a CPU
without bfloat16 instructions (AMD Zen 3 has none) bf16 MatMuls are emulated and a step takes many times
longer than in float32, so bench:scale also runs TRL with the settings bone train uses: float32, no
checkpointing. The anchor script itself stays as it is; the fields are set on every SFTConfig it builds.
"""
import json, runpy, sys

fields = json.loads(sys.argv[1])
script = sys.argv[2]
import trl

base_init = trl.SFTConfig.__init__
def init_with_fields(self, *args, **kwargs):
    base_init(self, *args, **{**kwargs, **fields})
trl.SFTConfig.__init__ = init_with_fields
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name='__main__')

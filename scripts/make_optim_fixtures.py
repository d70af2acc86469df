"""Reference numbers for the optimizers, gradient clipping and LR schedules, from torch and transformers.

Usage: python scripts/make_optim_fixtures.py test/fixtures/train/optim.json
"""
import json, sys
import torch
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup

torch.manual_seed(0)
out = {}

# AdamW and SGD: 4 steps on two parameters with fixed gradients per step.
shapes = [(3, 4), (5,)]
p0 = [torch.randn(s, dtype=torch.float32) for s in shapes]
grads = [[torch.randn(s, dtype=torch.float32) for s in shapes] for _ in range(4)]
lrs = [1e-2, 5e-3, 2e-2, 1e-3]

def run(make):
    ps = [torch.nn.Parameter(p.clone()) for p in p0]
    opt = make(ps)
    traj = []
    for step, gs in enumerate(grads):
        for g in opt.param_groups:
            g['lr'] = lrs[step]
        for p, g in zip(ps, gs):
            p.grad = g.clone()
        opt.step()
        traj.append([p.detach().flatten().tolist() for p in ps])
    return traj

out['params0'] = [p.flatten().tolist() for p in p0]
out['shapes'] = [list(s) for s in shapes]
out['grads'] = [[g.flatten().tolist() for g in gs] for gs in grads]
out['lrs'] = lrs
out['adamw'] = dict(betas=[0.9, 0.999], eps=1e-8, weight_decay=0.1,
                    trajectory=run(lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)))
out['sgd'] = dict(momentum=0.9, weight_decay=0.01,
                  trajectory=run(lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9, weight_decay=0.01)))

# clip_grad_norm_
gs = [torch.randn(s) * 3 for s in shapes]
ps = [torch.nn.Parameter(torch.zeros_like(g)) for g in gs]
for p, g in zip(ps, gs):
    p.grad = g.clone()
total = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0)
out['clip'] = dict(max_norm=1.0, grads=[g.flatten().tolist() for g in gs], total_norm=float(total),
                   clipped=[p.grad.flatten().tolist() for p in ps])

# schedules: lr multipliers for steps 0..total
def lambdas(make, total):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sch = make(opt)
    vals = []
    for _ in range(total + 1):
        vals.append(opt.param_groups[0]['lr'])
        opt.step(); sch.step()
    return vals

out['schedules'] = dict(
    warmup=3, total=12,
    constant=lambdas(lambda o: get_constant_schedule_with_warmup(o, 3), 12),
    linear=lambdas(lambda o: get_linear_schedule_with_warmup(o, 3, 12), 12),
    cosine=lambdas(lambda o: get_cosine_schedule_with_warmup(o, 3, 12), 12),
)
with open(sys.argv[1], 'w') as f:
    json.dump(out, f)

# The same comparison for VGG16 with closed-form weights: fixture and ours against float64 PyTorch.
import glob, os, numpy as np, torch, torchvision, torch.nn as nn
from safetensors.numpy import load_file
torch.set_num_threads(2)
m = torchvision.models.vgg16()
sd = m.state_dict(); new = {}
for i, (name, t) in enumerate(sd.items()):
    k = np.arange(t.numel(), dtype=np.float64)
    v = (2.0 / np.sqrt(np.prod(t.shape[1:]))) * np.sin(0.7 * k + 1.3 * i) if t.ndim > 1 else 0.01 * np.cos(0.3 * k + i)
    new[name] = torch.from_numpy(v.astype(np.float32).reshape(tuple(t.shape)))
m.load_state_dict(new); m.eval(); md = m.double()
def rel(a, b): return float(np.linalg.norm(a - b) / np.linalg.norm(b))
for f in sorted(glob.glob('/work/shared/reference/vgg16-formula/*.safetensors')):
    id = os.path.basename(f)[:-12]; fx = load_file(f); ours = load_file(f'/tmp/diag/vgg_{id}.safetensors')
    top1 = int(fx['top1'])
    x = torch.from_numpy(fx['input']).double().requires_grad_(True)
    lo = md(x); (g,) = torch.autograd.grad(lo[0, top1], x)
    lo = lo[0].detach().numpy(); g = g[0].numpy()
    print(f"{id}: logits fixture-vs-f64 {rel(fx['logits'], lo):.1e} ours-vs-f64 {rel(ours['logits'][0], lo):.1e} | grad fixture-vs-f64 {rel(fx['grad'], g):.1e} ours-vs-f64 {rel(ours['grad'][0], g):.1e}")

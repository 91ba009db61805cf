"""PyTorch timings of the ONNX-exported models, at the settings of benches/onnx.rs: forward at batch 16
(no_grad), the gradient of logit 1 of each image with respect to a batch-1 and a batch-16 input
(torch.autograd.grad) and Captum 0.9's GuidedBackprop of the same logit at batch 1 (on the model with ReLU6 made
visible to Captum, as peers/onnx_fixtures.py does). The models are rebuilt by peers/onnx_fixtures.py's `build`, so
they are the networks the ONNX files were exported from (shared/reference/onnx, or EXPORTS for the torchvision
architectures the benchmark exports itself). Beside them, onnxruntime's forward at batch 16 on the ONNX file
itself, when onnxruntime is installed.
Usage: python onnx_peer.py SHARED_DIR [--exports DIR] [--threads 2] [--runs 5] [--models lite0,mobilenet_v2,...]
Prints one JSON object: {model: {forward_b16, gradient_b1, gradient_b16, guided_b1, ort_forward_b16: median ms
per image; ort_load: median ms to open the file in onnxruntime}}."""
import argparse, json, os, statistics, sys, time

p = argparse.ArgumentParser()
p.add_argument("shared")
p.add_argument("--exports", default="")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--runs", type=int, default=5)
p.add_argument("--models", default="lite0,mobilenet_v2,resnet18,resnet50,efficientnet_b0,tinyresnet")
a = p.parse_args()
os.environ["THREADS"] = str(a.threads)
sys.path.insert(0, os.path.join(a.shared, "peers"))
import torch  # noqa: E402
import onnx_fixtures  # noqa: E402
from captum.attr import GuidedBackprop  # noqa: E402

torch.set_num_threads(a.threads)


def inputs(batch):
    i = torch.arange(batch * 3 * 224 * 224)
    return torch.sin((i % 997).float() * 0.013).reshape(batch, 3, 224, 224)


def median_ms(fn, per):
    fn()
    ts = []
    for _ in range(a.runs):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return 1e3 * statistics.median(ts) / per


x16, x1 = inputs(16), inputs(1)
out = {}
for name in a.models.split(","):
    m = onnx_fixtures.build(name)
    hooked = onnx_fixtures.prepare_for_captum(onnx_fixtures.build(name))
    guided = GuidedBackprop(hooked)

    def forward():
        with torch.no_grad():
            m(x16)

    def gradient(x):
        xi = x.clone().requires_grad_(True)
        torch.autograd.grad(m(xi)[:, 1].sum(), xi)

    row = {"forward_b16": median_ms(forward, 16), "gradient_b1": median_ms(lambda: gradient(x1), 1),
           "gradient_b16": median_ms(lambda: gradient(x16), 16),
           "guided_b1": median_ms(lambda: guided.attribute(x1.clone(), target=1), 1)}
    try:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = a.threads, 1
        files = [os.path.join(d, name, "model.onnx") for d in (os.path.join(a.shared, "reference", "onnx"), a.exports)]
        file = next(f for f in files if os.path.isfile(f))
        session = lambda: ort.InferenceSession(file, so, providers=["CPUExecutionProvider"])
        row["ort_load"] = median_ms(session, 1)
        sess = session()
        feed = {sess.get_inputs()[0].name: x16.numpy()}
        row["ort_forward_b16"] = median_ms(lambda: sess.run(None, feed), 16)
    except ImportError:
        pass
    out[name] = row
    print(name, row, file=sys.stderr)
print(json.dumps(out))

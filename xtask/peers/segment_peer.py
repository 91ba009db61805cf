"""Times the Python peer's segmentation stage (../shared/peers/localise_peer.py: seeds, scikit-learn
GMMs, PyMaxflow GraphCut, largest component) on the reference fixtures' pixels and saliency maps,
the same inputs `cargo run -p deepinside-segment --example segment_fixture` uses. One thread,
best of 3 process-time runs per image. Prints JSON {image_id: ms}.

With --same-graph DIR (unaries written by the example under DEEPINSIDE_UNARIES=DIR) it times
PyMaxflow's max-flow alone on our graph instead: the peer's pairwise terms and graph
construction (as in localise_peer.cut) with our unaries, only g.maxflow() timed."""
import glob, json, os, sys, time, importlib.util
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(v, "1")
import numpy as np
from safetensors.numpy import load_file

shared = sys.argv[1]
same_graph = sys.argv[sys.argv.index("--same-graph") + 1] if "--same-graph" in sys.argv else None
spec = importlib.util.spec_from_file_location("lp", os.path.join(shared, "peers/localise_peer.py"))
lp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lp)
out = {}
for f in sorted(glob.glob(os.path.join(shared, "reference/fixtures/*.safetensors"))):
    d = load_file(f)
    img, sal = d["pixels_224"].astype(np.uint8), d["saliency"]
    best = float("inf")
    if same_graph:
        import maxflow
        stem = os.path.join(same_graph, os.path.basename(f)[: -len(".safetensors")])
        dfg, dbg = (np.fromfile(f"{stem}.{s}.f64", "<f8").reshape(224, 224) for s in ("fg", "bg"))
        m = np.minimum(dfg, dbg)
        w = lp.pairwise(img, 50.0)
        for _ in range(3):
            g = maxflow.Graph[float](224 * 224, 224 * 224 * 4)
            nodes = g.add_grid_nodes((224, 224))
            for (dy, dx), wt in w.items():
                st = np.zeros((3, 3)); st[1 + dy, 1 + dx] = 1.0
                g.add_grid_edges(nodes, weights=wt, structure=st, symmetric=True)
            g.add_grid_tedges(nodes, dbg - m, dfg - m)
            t = time.process_time()
            g.maxflow()
            best = min(best, time.process_time() - t)
        out[os.path.basename(f)[: -len(".safetensors")]] = best * 1e3
        continue
    for _ in range(3):
        t = time.process_time()
        fg, bg = lp.seeds(sal)
        dfg, dbg = lp.unaries(img, fg, bg)
        lp.largest_box(lp.cut(dfg, dbg, lp.pairwise(img, 50.0))) or lp.largest_box(fg)
        best = min(best, time.process_time() - t)
    out[os.path.basename(f)[: -len(".safetensors")]] = best * 1e3
print(json.dumps(out))

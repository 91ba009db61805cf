"""SHA-256 of Pillow's decoded RGB bytes for the decoder test (tests/pillow_decode.rs).

    python3 -m pip install pillow
    python3 docs/scripts/pillow_decode_hashes.py ../shared/data/ilsvrc-dev/images tests/data/samples \
        > tests/data/pillow-decode.json

Each image is opened as the PyTorch reference pipeline opens it, `Image.open(p).convert("RGB")`;
the hash covers width, height and the row-major RGB bytes. Hashes of ILSVRC images are not the
images, so they may live in the repository.
"""
import hashlib
import json
import sys
from pathlib import Path

import PIL
from PIL import Image, features

out = {
    "pillow": PIL.__version__,
    "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
    "images": {},
}
for folder in map(Path, sys.argv[1:]):
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in {".jpeg", ".jpg", ".png"}:
            continue
        with Image.open(p) as im:
            rgb = im.convert("RGB")
            h = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode() + rgb.tobytes())
            out["images"][p.name] = h.hexdigest()
json.dump(out, sys.stdout, indent=1, sort_keys=True)
print()

"""Export Keras classifiers to ONNX with tf2onnx, as docs/onnx.md tells Keras users to, and
write TensorFlow's logits and input gradients beside them, so that the interpreter is
checked on the graphs tf2onnx writes (NHWC layers behind a transposed NCHW input, Keras's
ZeroPadding2D, ReLU6 as Clip, swish as Sigmoid and Mul, BatchNormalization folded or
standalone, Dense as MatMul + Add, Softmax at the output).

    python keras_export.py tiny OUT_DIR        # the fixtures of tests/data/keras (32 x 32),
                                               # exported with and without --inputs-as-nchw
    python keras_export.py applications OUT_DIR  # MobileNetV2 and EfficientNetB0, 224 x 224

Versions: tensorflow-cpu 2.15.1 (Keras 2.15), tf2onnx 1.16.1, onnx 1.16.2, numpy < 2.
Weights are random (seeded); batch-norm statistics are drawn so that every unit matters.
"""
import os
import sys

import numpy as np
import tensorflow as tf
import tf2onnx
from safetensors.numpy import save_file

L = tf.keras.layers


def tiny():
    """A small network that uses each Keras layer an image classifier commonly has."""
    x_in = L.Input((32, 32, 3), name="input")
    h = L.ZeroPadding2D(((0, 1), (0, 1)))(x_in)
    h = L.Conv2D(8, 3, strides=2, use_bias=False)(h)
    h = L.BatchNormalization()(h)
    h = L.ReLU(6.0)(h)
    skip = h
    h = L.DepthwiseConv2D(3, padding="same", use_bias=False)(h)
    h = L.BatchNormalization()(h)
    h = L.Activation("swish")(h)
    se = L.GlobalAveragePooling2D(keepdims=True)(h)
    se = L.Conv2D(4, 1, activation="relu")(se)
    se = L.Conv2D(8, 1, activation="sigmoid")(se)
    h = L.Multiply()([h, se])
    h = L.Conv2D(8, 1, use_bias=False)(h)
    h = L.BatchNormalization()(h)
    h = L.Add()([h, skip])
    h = L.Conv2D(16, 3, padding="same")(h)
    h = L.LeakyReLU(0.1)(h)
    h = L.MaxPooling2D(3, strides=2, padding="same")(h)
    h = L.AveragePooling2D(2)(h)
    h = L.Conv2D(16, 3, dilation_rate=2, padding="same", activation="tanh")(h)
    h = L.GlobalAveragePooling2D()(h)
    h = L.Dropout(0.2)(h)
    logits = L.Dense(10, name="logits")(h)
    out = L.Softmax()(logits)
    model = tf.keras.Model(x_in, out)
    return model, tf.keras.Model(x_in, logits)


def applications():
    """MobileNetV2 and EfficientNetB0 as tf.keras.applications builds them."""
    out = {}
    for name, make in [
        ("keras_mobilenet_v2", tf.keras.applications.MobileNetV2),
        ("keras_efficientnet_b0", tf.keras.applications.EfficientNetB0),
    ]:
        model = make(weights=None)
        dense = model.layers[-1]
        # The Dense layer applies the softmax itself: the logits are its affine part.
        feats = tf.keras.Model(model.input, dense.input)

        def logits_of(x, feats=feats, dense=dense):
            return tf.matmul(feats(x), dense.kernel) + dense.bias

        out[name] = (model, logits_of)
    return out


def randomise_batch_norm(model, rng):
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            n = gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n).astype(np.float32),
                    rng.normal(0, 0.1, n).astype(np.float32),
                    rng.normal(0, 0.1, n).astype(np.float32),
                    rng.uniform(0.5, 1.5, n).astype(np.float32),
                ]
            )


def export(model, size, path, nchw):
    """`nchw`: with tf2onnx's --inputs-as-nchw, as docs/onnx.md advises; without it the
    file takes Keras's own [batch, h, w, 3], which deepinside also reads."""
    spec = [tf.TensorSpec((None, size, size, 3), tf.float32, name="input")]
    tf2onnx.convert.from_keras(
        model,
        input_signature=spec,
        opset=17,
        inputs_as_nchw=["input"] if nchw else None,
        output_path=path,
    )


def reference(logits_of, x_nchw):
    """Logits and the input gradient of the top logit, per image, in NCHW."""
    rows = []
    for x in x_nchw:
        x = tf.constant(np.transpose(x[None], (0, 2, 3, 1)))
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = logits_of(x)
            top = int(tf.argmax(z[0]))
            s = z[0, top]
        g = tape.gradient(s, x).numpy()
        rows.append((z.numpy(), top, np.transpose(g, (0, 3, 1, 2))))
    return rows


def write(out_dir, stem, size, model, logits_of, rng, images=2, nchw=True):
    os.makedirs(out_dir, exist_ok=True)
    x = rng.normal(0, 1, (images, 3, size, size)).astype(np.float32)
    rows = reference(logits_of, x)
    export(model, size, os.path.join(out_dir, f"{stem}.onnx"), nchw)
    tensors = {}
    for i, (z, top, g) in enumerate(rows):
        tensors[f"input_{i}"] = x[i : i + 1]
        tensors[f"logits_{i}"] = z.astype(np.float32)
        # safetensors writes the buffer as it lies: a transposed view must be copied.
        tensors[f"grad_{i}"] = np.ascontiguousarray(g, dtype=np.float32)
        tensors[f"top1_{i}"] = np.array([top], dtype=np.int64)
    save_file(tensors, os.path.join(out_dir, f"{stem}.safetensors"))
    print(f"{stem}: tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}")


def main():
    what, out_dir = sys.argv[1], sys.argv[2]
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if what == "tiny":
        model, logits = tiny()
        randomise_batch_norm(model, rng)
        write(out_dir, "tiny", 32, model, logits, rng)
        write(out_dir, "tiny_nhwc", 32, model, logits, rng, nchw=False)
    elif what == "applications":
        for stem, (model, logits_of) in applications().items():
            randomise_batch_norm(model, rng)
            write(out_dir, stem, 224, model, logits_of, rng)
    else:
        sys.exit(f"unknown set {what}; use tiny or applications")


if __name__ == "__main__":
    main()

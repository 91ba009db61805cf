// CUDA twins of the CPU custom ops in this folder, compiled at run time with NVRTC.
// Every kernel mirrors its CPU loop exactly (same tie rule for max-pool, same summation
// order where the CPU has one), one thread per output element, f32, contiguous NCHW.

// ReLU (kind 0) / ReLU6 (kind 1).
__device__ __forceinline__ float act_value(float x, int kind) {
    return kind == 0 ? fmaxf(x, 0.0f) : fminf(fmaxf(x, 0.0f), 6.0f);
}

// PyTorch's subgradient mask: ReLU 1[x > 0], ReLU6 1[0 < x < 6].
__device__ __forceinline__ bool act_passes(float x, int kind) {
    return kind == 0 ? x > 0.0f : (x > 0.0f && x < 6.0f);
}

extern "C" __global__ void act_fwd(const float* x, float* y, int n, int kind) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = act_value(x[i], kind);
}

// rule 0: gradient, 1: DeconvNet (relu of the incoming gradient, input ignored),
// 2: guided backprop (both).
extern "C" __global__ void act_bwd(const float* x, const float* g, float* out, int n, int kind,
                                   int rule) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    bool passes = act_passes(x[i], kind);
    float gi = g[i];
    float r;
    if (rule == 0) r = passes ? gi : 0.0f;
    else if (rule == 1) r = fmaxf(gi, 0.0f);
    else r = passes ? fmaxf(gi, 0.0f) : 0.0f;
    out[i] = r;
}

// Flat index in the h × w plane of window (oy, ox)'s maximum: first maximum in scan order,
// NaN wins, -inf padding (as the CPU op and PyTorch).
__device__ int pool_argmax(const float* plane, int h, int w, int oy, int ox, int k, int s,
                           int p) {
    int y0 = oy * s - p, x0 = ox * s - p;
    int best = -1;
    float best_v = __int_as_float(0xff800000);  // -inf (no math.h under NVRTC)
    for (int ky = 0; ky < k; ++ky) {
        int y = y0 + ky;
        if (y < 0 || y >= h) continue;
        for (int kx = 0; kx < k; ++kx) {
            int x = x0 + kx;
            if (x < 0 || x >= w) continue;
            int i = y * w + x;
            float v = plane[i];
            if (best < 0 || v > best_v || isnan(v)) {
                best = i;
                best_v = v;
            }
        }
    }
    return best;
}

extern "C" __global__ void maxpool_fwd(const float* x, float* y, int planes, int h, int w,
                                       int ho, int wo, int k, int s, int p) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= planes * ho * wo) return;
    int plane = i / (ho * wo), o = i % (ho * wo);
    const float* src = x + (size_t)plane * h * w;
    y[i] = src[pool_argmax(src, h, w, o / wo, o % wo, k, s, p)];
}

// Gather form of the switch routing: each input pixel sums the gradients of the windows
// whose arg-max it is, in the CPU's (oy, ox) order; no atomics, deterministic.
extern "C" __global__ void maxpool_bwd(const float* x, const float* g, float* dx, int planes,
                                       int h, int w, int ho, int wo, int k, int s, int p) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= planes * h * w) return;
    int plane = i / (h * w), at = i % (h * w);
    int iy = at / w, ix = at % w;
    const float* src = x + (size_t)plane * h * w;
    const float* gp = g + (size_t)plane * ho * wo;
    int oy_lo = max(0, (iy + p - k + s) / s), oy_hi = min(ho - 1, (iy + p) / s);
    int ox_lo = max(0, (ix + p - k + s) / s), ox_hi = min(wo - 1, (ix + p) / s);
    float acc = 0.0f;
    for (int oy = oy_lo; oy <= oy_hi; ++oy)
        for (int ox = ox_lo; ox <= ox_hi; ++ox)
            if (pool_argmax(src, h, w, oy, ox, k, s, p) == at) acc += gp[oy * wo + ox];
    dx[i] = acc;
}

// Direct convolution, square kernel, stride s, padding top pt / left pl (TF-SAME may be
// asymmetric: bottom/right follow from the output size). depthwise: one filter per
// channel (cin == cout); else dense (groups 1). bias has cout values (zeros if none).
extern "C" __global__ void conv_fwd(const float* x, const float* wt, const float* bias,
                                    float* y, int n, int cin, int h, int w, int cout, int ho,
                                    int wo, int k, int s, int pt, int pl, int depthwise) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * cout * ho * wo) return;
    int ox = i % wo, oy = (i / wo) % ho, co = (i / (wo * ho)) % cout, b = i / (wo * ho * cout);
    float acc = bias[co];
    int c_lo = depthwise ? co : 0, c_hi = depthwise ? co + 1 : cin;
    for (int ci = c_lo; ci < c_hi; ++ci) {
        const float* plane = x + ((size_t)b * cin + ci) * h * w;
        const float* wk = wt + (depthwise ? (size_t)co * k * k : ((size_t)co * cin + ci) * k * k);
        for (int ky = 0; ky < k; ++ky) {
            int iy = oy * s - pt + ky;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < k; ++kx) {
                int ix = ox * s - pl + kx;
                if (ix < 0 || ix >= w) continue;
                acc += wk[ky * k + kx] * plane[iy * w + ix];
            }
        }
    }
    y[i] = acc;
}

// The adjoint of conv_fwd with respect to its input (gather form).
extern "C" __global__ void conv_bwd_input(const float* g, const float* wt, float* dx, int n,
                                          int cin, int h, int w, int cout, int ho, int wo,
                                          int k, int s, int pt, int pl, int depthwise) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * cin * h * w) return;
    int ix = i % w, iy = (i / w) % h, ci = (i / (w * h)) % cin, b = i / (w * h * cin);
    float acc = 0.0f;
    int c_lo = depthwise ? ci : 0, c_hi = depthwise ? ci + 1 : cout;
    for (int ky = 0; ky < k; ++ky) {
        int ty = iy + pt - ky;
        if (ty < 0 || ty % s != 0 || ty / s >= ho) continue;
        int oy = ty / s;
        for (int kx = 0; kx < k; ++kx) {
            int tx = ix + pl - kx;
            if (tx < 0 || tx % s != 0 || tx / s >= wo) continue;
            int ox = tx / s;
            for (int co = c_lo; co < c_hi; ++co) {
                float wv = depthwise ? wt[(size_t)co * k * k + ky * k + kx]
                                     : wt[(((size_t)co * cin + ci) * k + ky) * k + kx];
                acc += wv * g[(((size_t)b * cout + co) * ho + oy) * wo + ox];
            }
        }
    }
    dx[i] = acc;
}

// y[b, o] = bias[o] + Σ_i x[b, i] W[o, i]   (W in PyTorch's [out, in] layout).
extern "C" __global__ void linear_fwd(const float* x, const float* wt, const float* bias,
                                      float* y, int n, int in_f, int out_f) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * out_f) return;
    int o = i % out_f, b = i / out_f;
    const float* xr = x + (size_t)b * in_f;
    const float* wr = wt + (size_t)o * in_f;
    float acc = bias[o];
    for (int j = 0; j < in_f; ++j) acc += xr[j] * wr[j];
    y[i] = acc;
}

// dx[b, j] = Σ_o g[b, o] W[o, j].
extern "C" __global__ void linear_bwd_input(const float* g, const float* wt, float* dx, int n,
                                            int in_f, int out_f) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * in_f) return;
    int j = i % in_f, b = i / in_f;
    const float* gr = g + (size_t)b * out_f;
    float acc = 0.0f;
    for (int o = 0; o < out_f; ++o) acc += gr[o] * wt[(size_t)o * in_f + j];
    dx[i] = acc;
}

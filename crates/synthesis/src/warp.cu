// CUDA twin of warp.rs: bilinear resampling through precomputed taps (4 input indices and
// weights per output pixel and view), and its adjoint. Compiled at run time with NVRTC.
// idx and wts are laid out [view][output pixel][4].

extern "C" __global__ void warp_fwd(const float* x, const unsigned int* idx, const float* wts,
                                    float* y, int views, int channels, int in_plane,
                                    int out_plane) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= views * channels * out_plane) return;
    int o = i % out_plane, plane = i / out_plane, view = plane / channels;
    const float* src = x + (size_t)plane * in_plane;
    size_t t = ((size_t)view * out_plane + o) * 4;
    float acc = 0.0f;
    for (int k = 0; k < 4; ++k) acc += wts[t + k] * src[idx[t + k]];
    y[i] = acc;
}

// The adjoint: each output gradient scattered back through the same taps (atomic adds; the
// order of additions, unlike the CPU's, is not fixed).
extern "C" __global__ void warp_bwd(const float* g, const unsigned int* idx, const float* wts,
                                    float* dx, int views, int channels, int in_plane,
                                    int out_plane) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= views * channels * out_plane) return;
    int o = i % out_plane, plane = i / out_plane, view = plane / channels;
    float* dst = dx + (size_t)plane * in_plane;
    size_t t = ((size_t)view * out_plane + o) * 4;
    for (int k = 0; k < 4; ++k) atomicAdd(&dst[idx[t + k]], wts[t + k] * g[i]);
}

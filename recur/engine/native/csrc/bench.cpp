// The GEMM-only bound of a recurrent layer (benchmarks/rnn.py): the matrix products of one
// training step (or inference pass) of a G-gate cell with no pointwise work, issued the way the
// native engine issues them (per batch slice, see for_batch_slices). Not used by the engine itself.
//
//   forward:  xp = x W_ih^T over all T*B rows (one GEMM), then per step a_t = h_{t-1} W_hh^T
//   backward: per step dh_{t-1} = da_t W_hh, then dW_hh = Σ da^T h_{t-1}, dW_ih = da^T x and
//             dx = da W_ih (one GEMM each)
// x (T, B, I), w_ih (G*H, I), w_hh (G*H, H). The values are whatever the buffers hold.
#include "common.h"

namespace recur_native {

void gemm_bound(const Tensor& x_, const Tensor& w_ih_, const Tensor& w_hh_, bool training) {
  const Tensor x = x_.contiguous(), w_ih = w_ih_.contiguous(), w_hh = w_hh_.contiguous();
  TORCH_CHECK(x.scalar_type() == at::kFloat, "gemm_bound: float32 only");
  const int64_t steps = x.size(0), B = x.size(1), I = x.size(2);
  const int64_t GH = w_hh.size(0), H = w_hh.size(1), rows = steps * B;
  const auto opts = x.options();
  Tensor gates = at::empty({steps, B, GH}, opts);
  Tensor hs = at::zeros({steps + 1, B, H}, opts);  // h_{t-1} of step t at hs[t]
  const float *xp = x.data_ptr<float>(), *wi = w_ih.data_ptr<float>();
  const float* wh = w_hh.data_ptr<float>();
  const Tensor w_hh_t = transposed(w_hh);  // as the kernels: W_hh^T once, then mm_nn a step
  const float* wht = w_hh_t.data_ptr<float>();
  float *a = gates.data_ptr<float>(), *h = hs.data_ptr<float>();
  mm_nt<float>(a, GH, xp, I, wi, I, rows, GH, I, 0.f);
  const int64_t work = steps * GH * (H + 8);
  for_batch_slices(B, work, [&](int64_t b0, int64_t b1) {
    for (int64_t t = 0; t < steps; ++t) {
      mm_nn<float>(a + (t * B + b0) * GH, GH, h + (t * B + b0) * H, H, wht, GH, b1 - b0, GH, H,
                   1.f);
    }
  });
  if (!training) return;
  Tensor dh = at::empty({B, H}, opts), dw_hh = at::empty({GH, H}, opts);
  Tensor dw_ih = at::empty({GH, I}, opts), dx = at::empty({steps, B, I}, opts);
  for_batch_slices(B, work, [&](int64_t b0, int64_t b1) {
    for (int64_t t = steps - 1; t >= 0; --t) {
      mm_nn<float>(dh.data_ptr<float>() + b0 * H, H, a + (t * B + b0) * GH, GH, wh, H, b1 - b0, H,
                   GH, 0.f);
    }
  });
  mm_tn<float>(dw_hh.data_ptr<float>(), H, a, GH, h, H, rows, GH, H, 0.f);
  mm_tn<float>(dw_ih.data_ptr<float>(), I, a, GH, xp, I, rows, GH, I, 0.f);
  mm_nn<float>(dx.data_ptr<float>(), I, a, GH, wi, I, rows, I, GH, 0.f);
}

}  // namespace recur_native

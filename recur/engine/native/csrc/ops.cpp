// Registers the native engine's kernels as torch operators (torch.ops.recur_native.*).
//
// Every cell family has the same two signatures (see recur/engine/native/kernels.py):
//   <family>_forward(xp, state0, params, valid, recurrent_mask, zoneout_seed, zoneout, options,
//                    reals, training) -> Tensor[]
//       [outputs (T, B, S_0), *final_state, *saved (only when training)]
//   <family>_backward(grads, state0, params, forward, valid, recurrent_mask, zoneout_seed,
//                     zoneout, options, reals) -> Tensor[]
//       grads = [d_outputs?, *d_final_state?], forward = [outputs, *saved]
//       -> [d_xp (T, B, G*H), *d_state0, *d_params (undefined where a parameter is absent)]
// recurrent_mask (B, S_0), the zoneout probability and, in training, zoneout_seed (a 0-d int64,
// the seed of the noise the kernels compute inline): the regularisation of
// recur/engine/regularisation.py (p = 0 and None: none).
// Plus gemm_bound (bench.cpp), the benchmark's GEMM-only bound; zoneout_noise
// (zoneout_noise.cpp), the kernels' zoneout noise materialised for the tests; the input
// projection's linear_forward / linear_backward_input (linear.cpp); and the Echo State
// Network's reservoir_run (reservoir.cpp).
#include <torch/library.h>

#include "common.h"

namespace recur_native {

#define RECUR_DECLARE(family)                          \
  TensorList family##_forward(RECUR_FORWARD_ARGS);     \
  TensorList family##_backward(RECUR_BACKWARD_ARGS);

RECUR_DECLARE(lstm)
RECUR_DECLARE(gru)
RECUR_DECLARE(elman)
RECUR_DECLARE(lnlstm)
void gemm_bound(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, bool training);
Tensor linear_forward(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias,
                      const std::optional<Tensor>& norm_weight, double eps);
Tensor linear_backward_input(const Tensor& dy, const Tensor& weight);
Tensor reservoir_run(const Tensor& drive, const Tensor& indptr, const Tensor& indices,
                     const Tensor& data, const Tensor& x0, double leak, int64_t activation,
                     const std::optional<Tensor>& inputs,
                     const std::optional<Tensor>& input_weights,
                     const std::optional<Tensor>& bias);

}  // namespace recur_native

#define RECUR_DEFINE(m, family)                                                                \
  m.def(#family                                                                                \
        "_forward(Tensor xp, Tensor[] state0, Tensor?[] params, Tensor? valid, "               \
        "Tensor? recurrent_mask, Tensor? zoneout_seed, float zoneout, int[] options, "          \
        "float[] reals, bool training) -> Tensor[]",                                           \
        &recur_native::family##_forward);                                                      \
  m.def(#family                                                                                \
        "_backward(Tensor?[] grads, Tensor[] state0, Tensor?[] params, Tensor?[] forward, "    \
        "Tensor? valid, Tensor? recurrent_mask, Tensor? zoneout_seed, float zoneout, "          \
        "int[] options, float[] reals) -> Tensor[]",                                           \
        &recur_native::family##_backward)

TORCH_LIBRARY(recur_native, m) {
  RECUR_DEFINE(m, lstm);
  RECUR_DEFINE(m, gru);
  RECUR_DEFINE(m, elman);
  RECUR_DEFINE(m, lnlstm);
  m.def("gemm_bound(Tensor x, Tensor w_ih, Tensor w_hh, bool training) -> ()",
        &recur_native::gemm_bound);
  m.def("linear_forward(Tensor x, Tensor weight, Tensor? bias, Tensor? norm_weight, float eps) "
        "-> Tensor",
        &recur_native::linear_forward);
  m.def("linear_backward_input(Tensor dy, Tensor weight) -> Tensor",
        &recur_native::linear_backward_input);
  m.def("reservoir_run(Tensor(a!) drive, Tensor indptr, Tensor indices, Tensor data, Tensor x0, "
        "float leak, int activation, Tensor? inputs=None, Tensor? input_weights=None, "
        "Tensor? bias=None) -> Tensor(a!)",
        &recur_native::reservoir_run);
}

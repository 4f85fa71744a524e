// Elman and Clockwork RNNs in the native engine (see recur/cells/elman.py and clockwork.py).
//
// The H units form modules of `module_size` units; module k updates at step t when
// t mod periods[k] = 0 (an Elman cell: one module of period 1). With f = tanh or ReLU
// and W_hh already masked block-triangular by the Clockwork cell:
//   z_t = xp_t + h_{t-1} W_hh^T + b_hh,   h_t = a_t f(z_t) + (1 - a_t) h_{t-1}
// Backward (f' from the output: tanh' = 1 - h², relu' = [h > 0]):
//   dz = a_t dh f'(h_t),  dh_{t-1} = (1 - a_t) dh + dz W_hh  (one GEMM),
//   dW_hh = Σ dz^T h_{t-1},  db_hh = Σ dz,  d xp = dz
// Recurrent dropout and zoneout as in common.h (Regularisation): the product reads m ⊙ h_{t-1};
// zoneout blends h_t after the step, and f' then comes from the saved candidate h̃_t.
//
// Tensors (options = [relu, module_size, *periods]; params = [weight_hh (H, H),
// bias_hh? (H)]):
//   forward out: [outputs (T, B, H), h_n, hs (T, B, H) h_t (only with a validity mask),
//                 us (T, B, H) m ⊙ h_{t-1} (only with dropout), h_cand (T, B, H) h̃_t (only
//                 with zoneout)] — the saved ones only when training
//   backward out: [d_xp (T, B, H), d_h0, d_weight_hh, d_bias_hh]
#include "common.h"

namespace recur_native {
namespace {

struct Schedule {
  bool relu;
  int64_t module_size;
  std::vector<int64_t> periods;

  explicit Schedule(at::IntArrayRef options)
      : relu(options[0] != 0),
        module_size(options[1]),
        periods(options.begin() + 2, options.end()) {}

  bool active(int64_t t, int64_t module) const { return t % periods[module] == 0; }
};

template <typename T>
TensorList forward_impl(const Tensor& xp, const Tensor& h0, const OptTensorList& p,
                        const OptTensor& valid_t, const Regularisation<T>& reg,
                        const Schedule& s, bool training) {
  const int64_t steps = xp.size(0), B = xp.size(1), H = h0.size(1), M = s.module_size;
  const int64_t modules = static_cast<int64_t>(s.periods.size());
  const bool* valid = valid_ptr(valid_t);
  const auto opts = xp.options();
  Tensor outputs = at::empty({steps, B, H}, opts);
  const int64_t h_ring = valid ? (training ? steps : 2) : steps;
  Tensor hs = valid ? at::empty({h_ring, B, H}, opts) : Tensor();
  Tensor z = at::empty({B, H}, opts);  // h_{t-1} W_hh^T of the current step
  const bool zone = reg.zoneout();
  Tensor us = reg.dropout() ? at::empty({training ? steps : 1, B, H}, opts) : Tensor();
  Tensor h_cand = zone && training ? at::empty({steps, B, H}, opts) : Tensor();
  Tensor zero_bias = p[1].has_value() ? Tensor() : at::zeros({H}, opts);
  const Tensor w_hh_t = transposed(*p[0]);  // W_hh^T, the right-hand side mm_nn reads
  const T* w_t = w_hh_t.data_ptr<T>();
  const T* bias = p[1].has_value() ? p[1]->data_ptr<T>() : zero_bias.data_ptr<T>();
  const T* x = xp.data_ptr<T>();
  T* out = outputs.data_ptr<T>();
  T* h_state = valid ? hs.data_ptr<T>() : out;
  for_batch_slices(B, steps * H * (H + 4), [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    const T* h_prev = h0.data_ptr<T>() + b0 * H;
    T* zp = z.data_ptr<T>() + b0 * H;
    std::vector<int16_t> noise = reg.noise_buffer();
    for (int64_t t = 0; t < steps; ++t) {
      T* h = h_state + ((t % h_ring) * B + b0) * H;
      T* o = out + (t * B + b0) * H;
      T* u = reg.dropout() ? us.data_ptr<T>() + ((training ? t : 0) * B + b0) * H : nullptr;
      mm_nn<T>(zp, H, reg.input(h_prev, u, b0, nb, H), H, w_t, H, nb, H, H, T(0));
      for (int64_t b = 0; b < nb; ++b) {
        const T* __restrict hp = h_prev + b * H;
        T* __restrict hb = h + b * H;
        if (!is_valid(valid, t, B, b0 + b)) {  // padded: keep the state, output zero
          std::copy(hp, hp + H, hb);
          std::fill(o + b * H, o + (b + 1) * H, T(0));
          continue;
        }
        const T* __restrict zb = zp + b * H;
        const T* __restrict xb = x + (t * B + b0 + b) * H;
        for (int64_t k = 0; k < modules; ++k) {
          const int64_t lo = k * M, hi = lo + M;
          if (!s.active(t, k)) {
            std::copy(hp + lo, hp + hi, hb + lo);
          } else if (s.relu) {
#pragma omp simd
            for (int64_t j = lo; j < hi; ++j) {
              const T v = zb[j] + xb[j] + bias[j];
              hb[j] = v > T(0) ? v : T(0);
            }
          } else {
#pragma omp simd
            for (int64_t j = lo; j < hi; ++j) hb[j] = tanh_(zb[j] + xb[j] + bias[j]);
          }
        }
        if (zone) {
          T* cand = training ? h_cand.data_ptr<T>() + (t * B + b0 + b) * H : nullptr;
          reg.blend(hb, hp, cand, reg.row_noise(t, b0 + b, noise), 0, H);
        }
        if (valid) std::copy(hb, hb + H, o + b * H);
      }
      h_prev = h;
    }
  });
  TensorList result{outputs, at::empty({B, H}, opts)};
  const T* h_last = h_state + ((steps - 1) % h_ring) * B * H;
  std::copy(h_last, h_last + B * H, result[1].data_ptr<T>());
  if (training) result.insert(result.end(), {hs, us, h_cand});
  return result;
}

template <typename T>
TensorList backward_impl(const OptTensorList& grads, const Tensor& h0, const OptTensorList& p,
                         const OptTensorList& fwd, const OptTensor& valid_t,
                         const Regularisation<T>& reg, const Schedule& s) {
  const Tensor outputs = *fwd[0], hs = value_or_undefined(fwd[1]);
  const T* us = ptr<T>(fwd[2]);
  const bool zone = reg.zoneout();
  const int64_t steps = outputs.size(0), B = outputs.size(1), H = h0.size(1);
  const int64_t M = s.module_size, modules = static_cast<int64_t>(s.periods.size());
  const bool* valid = valid_ptr(valid_t);
  const auto opts = outputs.options();
  Tensor d_xp = at::empty({steps, B, H}, opts);
  Tensor dh = at::zeros({2, B, H}, opts);
  if (grads[1].has_value()) dh[0].copy_(*grads[1]);
  const T* d_out = ptr<T>(grads[0]);
  const T* w_hh = p[0]->data_ptr<T>();
  const T* h_states = (valid ? hs : outputs).data_ptr<T>();
  // f' reads the cell's own output: h̃_t under zoneout, else h_t
  const T* h_cells = zone ? fwd[3]->data_ptr<T>() : h_states;
  Tensor carry = zone ? at::empty({B, H}, opts) : Tensor();        // k ⊙ dh_t
  Tensor scratch = reg.dropout() ? at::empty({B, H}, opts) : Tensor();  // dz W_hh
  for_batch_slices(B, steps * H * (H + 4), [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    T* dh_cur = dh.data_ptr<T>() + b0 * H;
    T* dh_next = dh_cur + B * H;
    T* carry_b0 = zone ? carry.data_ptr<T>() + b0 * H : nullptr;
    T* scratch_b0 = reg.dropout() ? scratch.data_ptr<T>() + b0 * H : nullptr;
    std::vector<int16_t> noise = reg.noise_buffer();
    for (int64_t t = steps - 1; t >= 0; --t) {
      const T* h = h_cells + (t * B + b0) * H;
      T* d = d_xp.data_ptr<T>() + (t * B + b0) * H;
      for (int64_t b = 0; b < nb; ++b) {
        T* __restrict dhb = dh_cur + b * H;
        T* __restrict next = dh_next + b * H;
        T* __restrict db = d + b * H;
        if (!is_valid(valid, t, B, b0 + b)) {  // padded: dh passes through
          std::copy(dhb, dhb + H, next);
          std::fill(db, db + H, T(0));
          continue;
        }
        if (d_out) {
          const T* __restrict gb = d_out + (t * B + b0 + b) * H;
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) dhb[j] += gb[j];
        }
        if (zone) reg.split(dhb, carry_b0 + b * H, reg.row_noise(t, b0 + b, noise), 0, H);
        const T* __restrict hb = h + b * H;
        for (int64_t k = 0; k < modules; ++k) {
          const int64_t lo = k * M, hi = lo + M;
          if (!s.active(t, k)) {  // the unit copied h_{t-1}: its gradient passes through
            std::copy(dhb + lo, dhb + hi, next + lo);
            std::fill(db + lo, db + hi, T(0));
            continue;
          }
          std::fill(next + lo, next + hi, T(0));
          if (s.relu) {
#pragma omp simd
            for (int64_t j = lo; j < hi; ++j) db[j] = hb[j] > T(0) ? dhb[j] : T(0);
          } else {
#pragma omp simd
            for (int64_t j = lo; j < hi; ++j) db[j] = dhb[j] * (T(1) - hb[j] * hb[j]);
          }
        }
      }
      reg.backward_gemm(dh_next, d, H, w_hh, H, b0, nb, H, H, T(1), scratch_b0);
      if (zone) add_carry(dh_next, carry_b0, valid, t, B, b0, nb, H);
      std::swap(dh_cur, dh_next);
    }
  });
  TensorList result{d_xp, at::empty({B, H}, opts)};
  const T* dh0 = dh.data_ptr<T>() + (steps % 2) * B * H;  // every slice swapped T times
  std::copy(dh0, dh0 + B * H, result[1].data_ptr<T>());
  Tensor dw = at::empty({H, H}, opts);
  recurrent_weight_grad<T>(dw.data_ptr<T>(), H, H, d_xp.data_ptr<T>(), H, h0.data_ptr<T>(),
                           h_states, H, us, steps, B);
  result.push_back(dw);
  Tensor db;
  if (p[1].has_value()) {
    db = at::empty({H}, opts);
    column_sum<T>(db.data_ptr<T>(), d_xp.data_ptr<T>(), H, steps * B, H);
  }
  result.push_back(db);
  return result;
}

}  // namespace

TensorList elman_forward(RECUR_FORWARD_ARGS) {
  const Tensor x = xp.contiguous(), h0 = state0[0].contiguous();
  const OptTensorList p = contiguous(params);
  const OptTensor v = contiguous(valid);
  const OptTensor rm = contiguous(recurrent_mask), zs = contiguous(zoneout_seed);
  const Schedule s(options);
  TensorList result;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "recur_elman_forward", [&] {
    const Regularisation<scalar_t> reg(rm, zs, zoneout, state0);
    result = forward_impl<scalar_t>(x, h0, p, v, reg, s, training);
  });
  return result;
}

TensorList elman_backward(RECUR_BACKWARD_ARGS) {
  const OptTensorList g = contiguous(grads), p = contiguous(params), f = contiguous(forward);
  const Tensor h0 = state0[0].contiguous();
  const OptTensor v = contiguous(valid);
  const OptTensor rm = contiguous(recurrent_mask), zs = contiguous(zoneout_seed);
  const Schedule s(options);
  TensorList result;
  AT_DISPATCH_FLOATING_TYPES(h0.scalar_type(), "recur_elman_backward", [&] {
    const Regularisation<scalar_t> reg(rm, zs, zoneout, state0);
    result = backward_impl<scalar_t>(g, h0, p, f, v, reg, s);
  });
  return result;
}

}  // namespace recur_native

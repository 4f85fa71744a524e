// The GRU in the native engine, both conventions (see recur/cells/gru.py).
//
// Gate blocks (r, z, n); x_* the input projections, W_h* the row blocks of weight_hh:
//   r = σ(x_r + W_hr h_{t-1} + b_hr),  z = σ(x_z + W_hz h_{t-1} + b_hz)
//   reset after:  hn = W_hn h_{t-1} + b_hn,  n = tanh(x_n + r hn)            (torch.nn.GRU)
//   reset before: s = r h_{t-1},             n = tanh(x_n + W_hn s + b_hn)   (Cho et al.)
//   h_t = (1 - z) n + z h_{t-1}
// Backward (da_* the pre-activation gradients, d xp = (da_r, da_z, da_n) in both):
//   da_n = dh (1-z)(1-n²),  da_z = dh (h_{t-1} - n) z(1-z)
//   reset after:  da_r = da_n hn r(1-r);  dgh = (da_r, da_z, da_n r)
//                 dh_{t-1} = dh z + dgh W_hh                              (one GEMM)
//                 dW_hh = Σ dgh^T h_{t-1},  db_hh = Σ dgh
//   reset before: ds = da_n W_hn;  da_r = ds h_{t-1} r(1-r)
//                 dh_{t-1} = dh z + ds r + (da_r, da_z) W_h(r,z)           (two GEMMs)
//                 dW_h(r,z) = Σ (da_r, da_z)^T h_{t-1},  dW_hn = Σ da_n^T s,  db_hh = Σ d xp
// Recurrent dropout and zoneout as in common.h (Regularisation): both products read m ⊙ h_{t-1}
// (reset before: s = r ⊙ m ⊙ h_{t-1}, so ds picks up the factor m), while the carry z h_{t-1}
// reads h_{t-1}; zoneout blends h_t after the step (the backward never needs h̃_t), and its
// backward runs inside the gate loop: dh_t = carried dh + d_outputs[t] (read there, where its
// load overlaps the gates': a separate pass over it costs more than the rest of zoneout), the
// cell's share (1 - k) dh_t, and k dh_t straight into dh_{t-1}.
//
// Tensors (options = [reset_after]; params = [weight_hh (3H, H), bias_hh? (3H)]):
//   forward out: [outputs (T, B, H), h_n, gates (T, B, 3H) = (r, z, n),
//                 kept (T, B, H) = hn (reset after) or s (reset before), hs (T, B, H) h_t
//                 (only with a validity mask), us (T, B, H) m ⊙ h_{t-1} (only with dropout)]
//                 — the saved ones only when training
//   backward out: [d_xp (T, B, 3H), d_h0, d_weight_hh, d_bias_hh]
#include "common.h"

namespace recur_native {
namespace {

template <typename T, bool reset_after>
TensorList forward_impl(const Tensor& xp, const Tensor& h0, const OptTensorList& p,
                        const OptTensor& valid_t, const Regularisation<T>& reg, bool training) {
  const int64_t steps = xp.size(0), B = xp.size(1), H = h0.size(1), GH = 3 * H;
  const bool* valid = valid_ptr(valid_t);
  const auto opts = xp.options();
  const int64_t saved = training ? steps : 1;
  Tensor outputs = at::empty({steps, B, H}, opts);
  Tensor gates = at::empty({saved, B, GH}, opts);
  Tensor kept = at::empty({saved, B, H}, opts);
  const int64_t h_ring = valid ? (training ? steps : 2) : steps;
  Tensor hs = valid ? at::empty({h_ring, B, H}, opts) : Tensor();
  Tensor us = reg.dropout() ? at::empty({saved, B, H}, opts) : Tensor();
  Tensor zero_bias = p[1].has_value() ? Tensor() : at::zeros({GH}, opts);
  const Tensor w_hh_t = transposed(*p[0]);  // W_hh^T, the right-hand side mm_nn reads
  const T* w_t = w_hh_t.data_ptr<T>();
  const T* bias = p[1].has_value() ? p[1]->data_ptr<T>() : zero_bias.data_ptr<T>();
  const T* x = xp.data_ptr<T>();
  T* out = outputs.data_ptr<T>();
  T* h_state = valid ? hs.data_ptr<T>() : out;
  for_batch_slices(B, steps * GH * (H + 8), [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    const T* h_prev = h0.data_ptr<T>() + b0 * H;
    std::vector<int16_t> noise = reg.noise_buffer();
    for (int64_t t = 0; t < steps; ++t) {
      T* a = gates.data_ptr<T>() + ((training ? t : 0) * B + b0) * GH;
      T* k = kept.data_ptr<T>() + ((training ? t : 0) * B + b0) * H;
      T* h = h_state + ((t % h_ring) * B + b0) * H;
      const T* xt = x + (t * B + b0) * GH;
      // h_{t-1} W_hh^T: all three blocks (reset after) or (r, z) only (reset before).
      T* u = reg.dropout() ? us.data_ptr<T>() + ((training ? t : 0) * B + b0) * H : nullptr;
      const T* h_in = reg.input(h_prev, u, b0, nb, H);
      mm_nn<T>(a, GH, h_in, H, w_t, GH, nb, reset_after ? GH : 2 * H, H, T(0));
      for (int64_t b = 0; b < nb; ++b) {
        T* __restrict ab = a + b * GH;
        T* __restrict kb = k + b * H;
        const T* __restrict xb = xt + b * GH;
        const T* __restrict hp = h_prev + b * H;
        const T* __restrict hu = h_in + b * H;
        T* __restrict hb = h + b * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T r = sigmoid(ab[j] + xb[j] + bias[j]);
          const T z = sigmoid(ab[H + j] + xb[H + j] + bias[H + j]);
          ab[j] = r;
          ab[H + j] = z;
          if constexpr (reset_after) {
            const T hn = ab[2 * H + j] + bias[2 * H + j];
            const T n = tanh_(xb[2 * H + j] + r * hn);
            kb[j] = hn;
            ab[2 * H + j] = n;
            hb[j] = (T(1) - z) * n + z * hp[j];
          } else {
            kb[j] = r * hu[j];
          }
        }
      }
      if constexpr (!reset_after) {
        mm_nn<T>(a + 2 * H, GH, k, H, w_t + 2 * H, GH, nb, H, H, T(0));  // W_hn s
        for (int64_t b = 0; b < nb; ++b) {
          T* __restrict ab = a + b * GH;
          const T* __restrict xb = xt + b * GH;
          const T* __restrict hp = h_prev + b * H;
          T* __restrict hb = h + b * H;
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T n = tanh_(xb[2 * H + j] + ab[2 * H + j] + bias[2 * H + j]);
            ab[2 * H + j] = n;
            hb[j] = (T(1) - ab[H + j]) * n + ab[H + j] * hp[j];
          }
        }
      }
      if (reg.zoneout()) {
        for (int64_t b = 0; b < nb; ++b) {
          if (is_valid(valid, t, B, b0 + b)) {
            reg.blend(h + b * H, h_prev + b * H, nullptr, reg.row_noise(t, b0 + b, noise), 0, H);
          }
        }
      }
      if (valid) {  // padded rows keep the state and output zero
        T* o = out + (t * B + b0) * H;
        for (int64_t b = 0; b < nb; ++b) {
          const bool keep = is_valid(valid, t, B, b0 + b);
          if (!keep) std::copy(h_prev + b * H, h_prev + (b + 1) * H, h + b * H);
          for (int64_t j = 0; j < H; ++j) o[b * H + j] = keep ? h[b * H + j] : T(0);
        }
      }
      h_prev = h;
    }
  });
  TensorList result{outputs, at::empty({B, H}, opts)};
  const T* h_last = h_state + ((steps - 1) % h_ring) * B * H;
  std::copy(h_last, h_last + B * H, result[1].data_ptr<T>());
  if (training) result.insert(result.end(), {gates, kept, hs, us});
  return result;
}

template <typename T, bool reset_after>
TensorList backward_impl(const OptTensorList& grads, const Tensor& h0, const OptTensorList& p,
                         const OptTensorList& fwd, const OptTensor& valid_t,
                         const Regularisation<T>& reg) {
  const Tensor outputs = *fwd[0], gates = *fwd[1], kept = *fwd[2];
  const Tensor hs = value_or_undefined(fwd[3]);
  const T* us = ptr<T>(fwd[4]);
  const bool zone = reg.zoneout(), drop = reg.dropout();
  const int64_t steps = gates.size(0), B = gates.size(1), H = h0.size(1), GH = 3 * H;
  const bool* valid = valid_ptr(valid_t);
  const auto opts = gates.options();
  Tensor d_xp = at::empty({steps, B, GH}, opts);
  // reset after: the n block of dgh, da_n r, differs from d xp's: keep it for dW_hn and db_hn,
  // plus a (B, 3H) row of dgh for the step's GEMM. reset before: ds = da_n W_hn.
  Tensor dgh_n = reset_after ? at::empty({steps, B, H}, opts) : Tensor();
  Tensor scratch = at::empty({B, reset_after ? GH : H}, opts);
  const int64_t lds = reset_after ? GH : H;
  Tensor dh = at::zeros({2, B, H}, opts);
  if (grads[1].has_value()) dh[0].copy_(*grads[1]);
  const T* d_out = ptr<T>(grads[0]);
  const T* w_hh = p[0]->data_ptr<T>();
  const T* h_states = (valid ? hs : outputs).data_ptr<T>();
  Tensor masked = drop ? at::empty({B, H}, opts) : Tensor();        // d W_hh before m ⊙
  for_batch_slices(B, steps * GH * (H + 12), [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    T* dh_cur = dh.data_ptr<T>() + b0 * H;
    T* dh_next = dh_cur + B * H;
    T* sc = scratch.data_ptr<T>() + b0 * lds;
    T* masked_b0 = drop ? masked.data_ptr<T>() + b0 * H : nullptr;
    std::vector<int16_t> noise = reg.noise_buffer();
    std::vector<T> keep(zone ? H : 0);  // zoneout's k of one row
    for (int64_t t = steps - 1; t >= 0; --t) {
      const T* a = gates.data_ptr<T>() + (t * B + b0) * GH;
      const T* k = kept.data_ptr<T>() + (t * B + b0) * H;
      const T* h_prev = (t ? h_states + (t - 1) * B * H : h0.data_ptr<T>()) + b0 * H;
      T* d = d_xp.data_ptr<T>() + (t * B + b0) * GH;
      T* dn = reset_after ? dgh_n.data_ptr<T>() + (t * B + b0) * H : nullptr;
      for (int64_t b = 0; b < nb; ++b) {
        T* __restrict dhb = dh_cur + b * H;
        T* __restrict next = dh_next + b * H;
        T* __restrict db = d + b * GH;
        T* __restrict sb = sc + b * lds;
        if (!is_valid(valid, t, B, b0 + b)) {  // padded: dh passes through, no gate gradient
          std::copy(dhb, dhb + H, next);
          std::fill(db, db + GH, T(0));
          std::fill(sb, sb + lds, T(0));
          if (reset_after) std::fill(dn + b * H, dn + (b + 1) * H, T(0));
          continue;
        }
        const T* __restrict ab = a + b * GH;
        const T* __restrict kb = k + b * H;
        const T* __restrict hp = h_prev + b * H;
        const T* __restrict gb = d_out ? d_out + (t * B + b0 + b) * H : nullptr;
        const T* __restrict zk = nullptr;
        if (zone) {
          reg.keep_row(reg.row_noise(t, b0 + b, noise), 0, H, keep.data());
          zk = keep.data();
        }
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T r = ab[j], z = ab[H + j], n = ab[2 * H + j];
          const T dh_t = gb ? dhb[j] + gb[j] : dhb[j];
          const T carried = zk ? zk[j] * dh_t : T(0);  // zoneout: k dh_t skips the cell
          const T dhj = dh_t - carried;
          const T da_n = dhj * (T(1) - z) * (T(1) - n * n);
          const T da_z = dhj * (hp[j] - n) * z * (T(1) - z);
          db[H + j] = da_z;
          db[2 * H + j] = da_n;
          next[j] = dhj * z + carried;
          if constexpr (reset_after) {
            const T da_r = da_n * kb[j] * r * (T(1) - r);
            db[j] = da_r;
            sb[j] = da_r;
            sb[H + j] = da_z;
            sb[2 * H + j] = da_n * r;
            dn[b * H + j] = da_n * r;
          }
        }
      }
      if (reset_after) {
        reg.backward_gemm(dh_next, sc, GH, w_hh, H, b0, nb, H, GH, T(1), masked_b0);
      } else {
        // ds = m ⊙ (da_n W_hn)
        reg.backward_gemm(sc, d + 2 * H, GH, w_hh + 2 * H * H, H, b0, nb, H, H, T(0), masked_b0);
        for (int64_t b = 0; b < nb; ++b) {
          if (!is_valid(valid, t, B, b0 + b)) continue;
          const T* __restrict ab = a + b * GH;
          const T* __restrict hp = h_prev + b * H;
          const T* __restrict ds = sc + b * H;
          T* __restrict db = d + b * GH;
          T* __restrict next = dh_next + b * H;
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T r = ab[j];
            db[j] = ds[j] * hp[j] * r * (T(1) - r);
            next[j] += ds[j] * r;
          }
        }
        // + m ⊙ ((da_r, da_z) W_h(r,z))
        reg.backward_gemm(dh_next, d, GH, w_hh, H, b0, nb, H, 2 * H, T(1), masked_b0);
      }
      std::swap(dh_cur, dh_next);
    }
  });
  const int64_t rows = steps * B;
  TensorList result{d_xp, at::empty({B, H}, opts)};
  const T* dh0 = dh.data_ptr<T>() + (steps % 2) * B * H;  // every slice swapped T times
  std::copy(dh0, dh0 + B * H, result[1].data_ptr<T>());
  Tensor dw = at::empty({GH, H}, opts);
  T* dwp = dw.data_ptr<T>();
  const T* dx = d_xp.data_ptr<T>();
  const T* h0p = h0.data_ptr<T>();
  recurrent_weight_grad<T>(dwp, 2 * H, H, dx, GH, h0p, h_states, H, us, steps, B);  // (r, z)
  if (reset_after) {
    recurrent_weight_grad<T>(dwp + 2 * H * H, H, H, dgh_n.data_ptr<T>(), H, h0p, h_states, H,
                             us, steps, B);
  } else {
    mm_tn<T>(dwp + 2 * H * H, H, dx + 2 * H, GH, kept.data_ptr<T>(), H, rows, H, H, T(0));
  }
  result.push_back(dw);
  Tensor db;
  if (p[1].has_value()) {
    db = at::empty({GH}, opts);
    column_sum<T>(db.data_ptr<T>(), dx, GH, rows, reset_after ? 2 * H : GH);
    if (reset_after) column_sum<T>(db.data_ptr<T>() + 2 * H, dgh_n.data_ptr<T>(), H, rows, H);
  }
  result.push_back(db);
  return result;
}

}  // namespace

TensorList gru_forward(RECUR_FORWARD_ARGS) {
  const Tensor x = xp.contiguous(), h0 = state0[0].contiguous();
  const OptTensorList p = contiguous(params);
  const OptTensor v = contiguous(valid);
  const OptTensor rm = contiguous(recurrent_mask), zs = contiguous(zoneout_seed);
  TensorList result;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "recur_gru_forward", [&] {
    const Regularisation<scalar_t> reg(rm, zs, zoneout, state0);
    result = options[0] ? forward_impl<scalar_t, true>(x, h0, p, v, reg, training)
                        : forward_impl<scalar_t, false>(x, h0, p, v, reg, training);
  });
  return result;
}

TensorList gru_backward(RECUR_BACKWARD_ARGS) {
  const OptTensorList g = contiguous(grads), p = contiguous(params), f = contiguous(forward);
  const Tensor h0 = state0[0].contiguous();
  const OptTensor v = contiguous(valid);
  const OptTensor rm = contiguous(recurrent_mask), zs = contiguous(zoneout_seed);
  TensorList result;
  AT_DISPATCH_FLOATING_TYPES(h0.scalar_type(), "recur_gru_backward", [&] {
    const Regularisation<scalar_t> reg(rm, zs, zoneout, state0);
    result = options[0] ? backward_impl<scalar_t, true>(g, h0, p, f, v, reg)
                        : backward_impl<scalar_t, false>(g, h0, p, f, v, reg);
  });
  return result;
}

}  // namespace recur_native

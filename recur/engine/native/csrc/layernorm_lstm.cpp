// The layer-normalised LSTM in the native engine (see recur/cells/layernorm_lstm.py).
//
//   r = h_{t-1} W_hh^T,  r̂ = (r - mean r) / σ_r over the 4H of a row,  σ = sqrt(var + eps)
//   a = xp_t + γ_hh r̂ + b_hh,  (i, f, g, o) = (σ(a_i), σ(a_f), tanh a_g, σ(a_o))
//   c_t = f c_{t-1} + i g,  ĉ = (c_t - mean c_t) / σ_c over H,  n = γ_c ĉ + β_c
//   h_t = o tanh n
// Backward, with LN'(dx̂; x̂, σ) = (1/σ)(dx̂ - mean dx̂ - x̂ mean(dx̂ x̂)) the gradient through a
// normalisation (means over the normalised row):
//   dn = dh o (1 - tanh² n),  da_o = dh tanh n o(1-o),  dc += LN'(dn γ_c; ĉ, σ_c)
//   (da_i, da_f, da_g) = (dc g i(1-i), dc c_{t-1} f(1-f), dc i (1-g²)),  dc_{t-1} = dc f
//   dr = LN'(da γ_hh; r̂, σ_r),  dh_{t-1} = dr W_hh  (one GEMM)
//   over all steps (dW_hh, dγ_c, dβ_c chunk by chunk): dW_hh = Σ dr^T h_{t-1},
//   dγ_hh = Σ da r̂,  db_hh = Σ da,  dγ_c = Σ dn ĉ,  dβ_c = Σ dn;  d xp = da
// Recurrent dropout and zoneout as in common.h (Regularisation): r = (m ⊙ h_{t-1}) W_hh^T;
// zoneout blends h_t (offset 0) and c_t (offset H) after ĉ is taken from the cell's c̃_t, so cs
// holds the blended c_t, which is all the backward reads of c.
//
// Tensors (reals = [eps]; params = [weight_hh (4H, H), bias_hh? (4H), ln_weight_hh (4H),
// ln_weight_c (H), ln_bias_c (H)]):
//   forward out: [outputs (T, B, H), h_n, c_n, gates (T, B, 4H) activations, r_hat (T, B, 4H),
//                 inv_sigma_r (T, B), cs (T, B, H) c_t, c_hat (T, B, H), inv_sigma_c (T, B),
//                 hs (T, B, H) h_t (only with a validity mask), us (T, B, H) m ⊙ h_{t-1}
//                 (only with dropout)] — the saved ones only when training
//   backward out: [d_xp, d_h0, d_c0, d_weight_hh, d_bias_hh, d_ln_weight_hh, d_ln_weight_c,
//                  d_ln_bias_c]
#include "common.h"

#include <cmath>

namespace recur_native {
namespace {

// x̂ = (x - mean) / σ of one row of n values, in place of `out`; returns 1/σ.
template <typename T>
inline T normalize(const T* __restrict x, T* __restrict out, int64_t n, T eps) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += x[j];
  const T mean = sum / T(n);
  T var = 0;
#pragma omp simd reduction(+ : var)
  for (int64_t j = 0; j < n; ++j) var += (x[j] - mean) * (x[j] - mean);
  const T inv_sigma = T(1) / std::sqrt(var / T(n) + eps);
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) out[j] = (x[j] - mean) * inv_sigma;
  return inv_sigma;
}

// dx = LN'(dx̂; x̂, σ) for one row, dx̂ = d γ (both given): (1/σ)(dx̂ - mean dx̂ - x̂ mean(dx̂ x̂)).
template <typename T>
inline void normalize_backward(const T* __restrict d, const T* __restrict gamma,
                               const T* __restrict x_hat, T inv_sigma, T* __restrict out,
                               int64_t n, bool accumulate) {
  T sum = 0, dot = 0;
#pragma omp simd reduction(+ : sum, dot)
  for (int64_t j = 0; j < n; ++j) {
    sum += d[j] * gamma[j];
    dot += d[j] * gamma[j] * x_hat[j];
  }
  const T mean = sum / T(n), mean_dot = dot / T(n);
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const T v = inv_sigma * (d[j] * gamma[j] - mean - x_hat[j] * mean_dot);
    out[j] = accumulate ? out[j] + v : v;
  }
}

template <typename T>
TensorList forward_impl(const Tensor& xp, const Tensor& h0, const Tensor& c0,
                        const OptTensorList& p, const OptTensor& valid_t,
                        const Regularisation<T>& reg, T eps, bool training) {
  const int64_t steps = xp.size(0), B = xp.size(1), H = c0.size(1), GH = 4 * H;
  const bool* valid = valid_ptr(valid_t);
  const auto opts = xp.options();
  const int64_t saved = training ? steps : 1, ring = training ? steps : 2;
  Tensor outputs = at::empty({steps, B, H}, opts);
  Tensor gates = at::empty({saved, B, GH}, opts), r_hat = at::empty({saved, B, GH}, opts);
  Tensor inv_sigma_r = at::empty({saved, B}, opts), inv_sigma_c = at::empty({saved, B}, opts);
  Tensor cs = at::empty({ring, B, H}, opts), c_hat = at::empty({saved, B, H}, opts);
  const int64_t h_ring = valid ? ring : steps;
  Tensor hs = valid ? at::empty({h_ring, B, H}, opts) : Tensor();
  Tensor us = reg.dropout() ? at::empty({saved, B, H}, opts) : Tensor();
  const bool zone = reg.zoneout();
  Tensor zero_bias = p[1].has_value() ? Tensor() : at::zeros({GH}, opts);
  const Tensor w_hh_t = transposed(*p[0]);  // W_hh^T, the right-hand side mm_nn reads
  const T* w_t = w_hh_t.data_ptr<T>();
  const T* bias = p[1].has_value() ? p[1]->data_ptr<T>() : zero_bias.data_ptr<T>();
  const T *gamma_hh = p[2]->data_ptr<T>(), *gamma_c = p[3]->data_ptr<T>();
  const T* beta_c = p[4]->data_ptr<T>();
  const T* x = xp.data_ptr<T>();
  T* out = outputs.data_ptr<T>();
  T* h_state = valid ? hs.data_ptr<T>() : out;
  for_batch_slices(B, steps * GH * (H + 12), [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    const T* h_prev = h0.data_ptr<T>() + b0 * H;
    const T* c_prev = c0.data_ptr<T>() + b0 * H;
    std::vector<int16_t> noise = reg.noise_buffer();
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t st = (training ? t : 0) * B + b0;  // row of the saved buffers
      T* a = gates.data_ptr<T>() + st * GH;
      T* rh = r_hat.data_ptr<T>() + st * GH;
      T* isr = inv_sigma_r.data_ptr<T>() + st;
      T* isc = inv_sigma_c.data_ptr<T>() + st;
      T* c = cs.data_ptr<T>() + ((t % ring) * B + b0) * H;
      T* ch = c_hat.data_ptr<T>() + st * H;
      T* h = h_state + ((t % h_ring) * B + b0) * H;
      T* o = out + (t * B + b0) * H;
      T* u = reg.dropout() ? us.data_ptr<T>() + st * H : nullptr;
      const T* h_in = reg.input(h_prev, u, b0, nb, H);
      mm_nn<T>(a, GH, h_in, H, w_t, GH, nb, GH, H, T(0));  // r, normalised into r_hat below
      for (int64_t b = 0; b < nb; ++b) {
        const T* __restrict cp = c_prev + b * H;
        T* __restrict cb = c + b * H;
        T* __restrict hb = h + b * H;
        T* __restrict rb = rh + b * GH;
        T* __restrict chb = ch + b * H;
        if (!is_valid(valid, t, B, b0 + b)) {  // padded: keep the state, output zero
          std::copy(cp, cp + H, cb);
          std::copy(h_prev + b * H, h_prev + (b + 1) * H, hb);
          std::fill(o + b * H, o + (b + 1) * H, T(0));
          // r̂ and ĉ enter the gain gradients (times a zero gradient): keep them finite.
          std::fill(rb, rb + GH, T(0));
          std::fill(chb, chb + H, T(0));
          continue;
        }
        T* __restrict ab = a + b * GH;
        const T* __restrict xb = x + (t * B + b0 + b) * GH;
        isr[b] = normalize(ab, rb, GH, eps);
        const T *x_i = xb, *x_f = xb + H, *x_g = xb + 2 * H, *x_o = xb + 3 * H;
        const T *r_i = rb, *r_f = rb + H, *r_g = rb + 2 * H, *r_o = rb + 3 * H;
        const T *w_i = gamma_hh, *w_f = gamma_hh + H, *w_g = gamma_hh + 2 * H;
        const T *w_o = gamma_hh + 3 * H, *b_i = bias, *b_f = bias + H, *b_g = bias + 2 * H;
        const T* b_o = bias + 3 * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          const T i = sigmoid(x_i[j] + w_i[j] * r_i[j] + b_i[j]);
          const T f = sigmoid(x_f[j] + w_f[j] * r_f[j] + b_f[j]);
          const T g = tanh_(x_g[j] + w_g[j] * r_g[j] + b_g[j]);
          ab[j] = i;
          ab[H + j] = f;
          ab[2 * H + j] = g;
          ab[3 * H + j] = sigmoid(x_o[j] + w_o[j] * r_o[j] + b_o[j]);
          cb[j] = f * cp[j] + i * g;
        }
        isc[b] = normalize(cb, chb, H, eps);
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          hb[j] = ab[3 * H + j] * tanh_(gamma_c[j] * chb[j] + beta_c[j]);
        }
        if (zone) {
          const int16_t* z = reg.row_noise(t, b0 + b, noise);
          reg.blend(cb, cp, nullptr, z, H, H);
          reg.blend(hb, h_prev + b * H, nullptr, z, 0, H);
        }
        if (valid) std::copy(hb, hb + H, o + b * H);
      }
      h_prev = h;
      c_prev = c;
    }
  });
  TensorList result{outputs, at::empty({B, H}, opts), at::empty({B, H}, opts)};
  const T* h_last = h_state + ((steps - 1) % h_ring) * B * H;
  const T* c_last = cs.data_ptr<T>() + ((steps - 1) % ring) * B * H;
  std::copy(h_last, h_last + B * H, result[1].data_ptr<T>());
  std::copy(c_last, c_last + B * H, result[2].data_ptr<T>());
  if (training) {
    result.insert(result.end(), {gates, r_hat, inv_sigma_r, cs, c_hat, inv_sigma_c, hs, us});
  }
  return result;
}

// Backward runs in chunks of kChunk steps (last chunk first): the batch slices run a chunk's
// steps, then dW_hh, dγ_c and dβ_c take that chunk's dr and dn in one GEMM / reduction. Only a
// chunk of dr (4H a row) and dn is ever held, so training peaks no higher than the LSTM's
// torch.nn counterpart although r̂ and ĉ are saved.
constexpr int64_t kChunk = 16;

template <typename T>
TensorList backward_impl(const OptTensorList& grads, const Tensor& h0, const Tensor& c0,
                         const OptTensorList& p, const OptTensorList& fwd,
                         const OptTensor& valid_t, const Regularisation<T>& reg) {
  const Tensor outputs = *fwd[0], gates = *fwd[1], r_hat = *fwd[2], inv_sigma_r = *fwd[3];
  const Tensor cs = *fwd[4], c_hat = *fwd[5], inv_sigma_c = *fwd[6];
  const Tensor hs = value_or_undefined(fwd[7]);
  const T* us = ptr<T>(fwd[8]);
  const bool zone = reg.zoneout();
  const int64_t steps = gates.size(0), B = gates.size(1), H = c0.size(1), GH = 4 * H;
  const bool* valid = valid_ptr(valid_t);
  const auto opts = gates.options();
  const int64_t chunk = std::min(kChunk, steps);
  Tensor d_xp = at::empty({steps, B, GH}, opts);
  Tensor d_r = at::empty({chunk, B, GH}, opts);  // dL/d(h_{t-1} W_hh^T) of the chunk's steps
  Tensor d_n = at::empty({chunk, B, H}, opts);   // dL/dn of the chunk's steps
  Tensor dh = at::zeros({2, B, H}, opts);        // dh_t at (T-1-t) % 2, dh_{t-1} at the other
  if (grads[1].has_value()) dh[0].copy_(*grads[1]);
  Tensor d_c0 = grads[2].has_value() ? grads[2]->clone() : at::zeros({B, H}, opts);
  Tensor dw = at::empty({GH, H}, opts), dgamma_c = at::zeros({H}, opts);
  Tensor dbeta_c = at::zeros({H}, opts);
  const T* d_out = ptr<T>(grads[0]);
  const T* w_hh = p[0]->data_ptr<T>();
  const T *gamma_hh = p[2]->data_ptr<T>(), *gamma_c = p[3]->data_ptr<T>();
  const T* beta_c = p[4]->data_ptr<T>();
  const T* h_states = (valid ? hs : outputs).data_ptr<T>();
  Tensor carry_h = zone ? at::empty({B, H}, opts) : Tensor();  // k ⊙ dh_t
  Tensor carry_c = zone ? at::empty({B, H}, opts) : Tensor();  // k ⊙ dc_t
  Tensor masked = reg.dropout() ? at::empty({B, H}, opts) : Tensor();  // dr W_hh before m ⊙
  for (int64_t hi = steps; hi > 0; hi -= chunk) {
    const int64_t lo = std::max<int64_t>(0, hi - chunk);
    for_batch_slices(B, (hi - lo) * GH * (H + 16), [&](int64_t b0, int64_t b1) {
      const int64_t nb = b1 - b0;
      T* dc = d_c0.data_ptr<T>() + b0 * H;
      T* carry_h_b0 = zone ? carry_h.data_ptr<T>() + b0 * H : nullptr;
      T* carry_c_b0 = zone ? carry_c.data_ptr<T>() + b0 * H : nullptr;
      T* masked_b0 = reg.dropout() ? masked.data_ptr<T>() + b0 * H : nullptr;
      std::vector<int16_t> noise = reg.noise_buffer();
      for (int64_t t = hi - 1; t >= lo; --t) {
        const int64_t row = t * B + b0, chunk_row = (t - lo) * B + b0;
        T* dh_cur = dh.data_ptr<T>() + ((steps - 1 - t) % 2) * B * H + b0 * H;
        T* dh_next = dh.data_ptr<T>() + ((steps - t) % 2) * B * H + b0 * H;
        const T* a = gates.data_ptr<T>() + row * GH;
        const T* rh = r_hat.data_ptr<T>() + row * GH;
        const T* ch = c_hat.data_ptr<T>() + row * H;
        const T* c_prev = t ? cs.data_ptr<T>() + (row - B) * H : c0.data_ptr<T>() + b0 * H;
        const T* isr = inv_sigma_r.data_ptr<T>() + row;
        const T* isc = inv_sigma_c.data_ptr<T>() + row;
        T* d = d_xp.data_ptr<T>() + row * GH;
        T* dr = d_r.data_ptr<T>() + chunk_row * GH;
        T* dn = d_n.data_ptr<T>() + chunk_row * H;
        for (int64_t b = 0; b < nb; ++b) {
          T* __restrict dhb = dh_cur + b * H;
          T* __restrict next = dh_next + b * H;
          T* __restrict db = d + b * GH;
          T* __restrict drb = dr + b * GH;
          T* __restrict dnb = dn + b * H;
          if (!is_valid(valid, t, B, b0 + b)) {  // padded: dh and dc pass through
            std::copy(dhb, dhb + H, next);
            std::fill(db, db + GH, T(0));
            std::fill(drb, drb + GH, T(0));
            std::fill(dnb, dnb + H, T(0));
            continue;
          }
          if (valid) std::fill(next, next + H, T(0));
          if (d_out) {
            const T* __restrict gb = d_out + (row + b) * H;
#pragma omp simd
            for (int64_t j = 0; j < H; ++j) dhb[j] += gb[j];
          }
          const T* __restrict ab = a + b * GH;
          const T* __restrict chb = ch + b * H;
          const T* __restrict cp = c_prev + b * H;
          T* __restrict dcb = dc + b * H;
          if (zone) {  // the kept units' dh_t and dc_t skip the cell
            const int16_t* z = reg.row_noise(t, b0 + b, noise);
            reg.split(dhb, carry_h_b0 + b * H, z, 0, H);
            reg.split(dcb, carry_c_b0 + b * H, z, H, H);
          }
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T o = ab[3 * H + j], tn = tanh_(gamma_c[j] * chb[j] + beta_c[j]);
            db[3 * H + j] = dhb[j] * tn * o * (T(1) - o);
            dnb[j] = dhb[j] * o * (T(1) - tn * tn);
          }
          normalize_backward(dnb, gamma_c, chb, isc[b], dcb, H, true);
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T i = ab[j], f = ab[H + j], g = ab[2 * H + j], dcj = dcb[j];
            db[j] = dcj * g * i * (T(1) - i);
            db[H + j] = dcj * cp[j] * f * (T(1) - f);
            db[2 * H + j] = dcj * i * (T(1) - g * g);
            dcb[j] = dcj * f;
          }
          if (zone) {
            const T* __restrict kc = carry_c_b0 + b * H;
#pragma omp simd
            for (int64_t j = 0; j < H; ++j) dcb[j] += kc[j];
          }
          normalize_backward(db, gamma_hh, rh + b * GH, isr[b], drb, GH, false);
        }
        reg.backward_gemm(dh_next, dr, GH, w_hh, H, b0, nb, H, GH, valid ? T(1) : T(0),
                          masked_b0);
        if (zone) add_carry(dh_next, carry_h_b0, valid, t, B, b0, nb, H);
      }
    });
    // This chunk's share of dW_hh = Σ dr^T h_{t-1} (h_{-1} = h0), dγ_c = Σ dn ĉ, dβ_c = Σ dn.
    const T beta = hi == steps ? T(0) : T(1);
    T* dwp = dw.data_ptr<T>();
    const T* drp = d_r.data_ptr<T>();
    const int64_t rows = (hi - lo) * B;
    if (us != nullptr) {  // u_{t-1} = m ⊙ h_{t-1} of steps lo .. hi-1
      mm_tn<T>(dwp, H, drp, GH, us + lo * B * H, H, rows, GH, H, beta);
    } else if (lo == 0) {
      mm_tn<T>(dwp, H, drp, GH, h0.data_ptr<T>(), H, B, GH, H, beta);
      if (hi > 1) mm_tn<T>(dwp, H, drp + B * GH, GH, h_states, H, rows - B, GH, H, T(1));
    } else {
      mm_tn<T>(dwp, H, drp, GH, h_states + (lo - 1) * B * H, H, rows, GH, H, beta);
    }
    column_dot<T>(dgamma_c.data_ptr<T>(), d_n.data_ptr<T>(), H,
                  c_hat.data_ptr<T>() + lo * B * H, H, rows, H, true);
    column_sum<T>(dbeta_c.data_ptr<T>(), d_n.data_ptr<T>(), H, rows, H, true);
  }
  const int64_t rows = steps * B;
  TensorList result{d_xp, at::empty({B, H}, opts), d_c0};
  const T* dh0 = dh.data_ptr<T>() + (steps % 2) * B * H;  // dh_{-1}
  std::copy(dh0, dh0 + B * H, result[1].data_ptr<T>());
  Tensor db, dgamma_hh = at::empty({GH}, opts);
  if (p[1].has_value()) {
    db = at::empty({GH}, opts);
    column_sum<T>(db.data_ptr<T>(), d_xp.data_ptr<T>(), GH, rows, GH);
  }
  column_dot<T>(dgamma_hh.data_ptr<T>(), d_xp.data_ptr<T>(), GH, r_hat.data_ptr<T>(), GH, rows,
                GH);
  result.insert(result.end(), {dw, db, dgamma_hh, dgamma_c, dbeta_c});
  return result;
}

}  // namespace

TensorList lnlstm_forward(RECUR_FORWARD_ARGS) {
  const Tensor x = xp.contiguous(), h0 = state0[0].contiguous(), c0 = state0[1].contiguous();
  const OptTensorList p = contiguous(params);
  const OptTensor v = contiguous(valid);
  const OptTensor rm = contiguous(recurrent_mask), zs = contiguous(zoneout_seed);
  TensorList result;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "recur_lnlstm_forward", [&] {
    const Regularisation<scalar_t> reg(rm, zs, zoneout, state0);
    const auto eps = static_cast<scalar_t>(reals[0]);
    result = forward_impl<scalar_t>(x, h0, c0, p, v, reg, eps, training);
  });
  return result;
}

TensorList lnlstm_backward(RECUR_BACKWARD_ARGS) {
  const OptTensorList g = contiguous(grads), p = contiguous(params), f = contiguous(forward);
  const Tensor h0 = state0[0].contiguous(), c0 = state0[1].contiguous();
  const OptTensor v = contiguous(valid);
  const OptTensor rm = contiguous(recurrent_mask), zs = contiguous(zoneout_seed);
  TensorList result;
  AT_DISPATCH_FLOATING_TYPES(h0.scalar_type(), "recur_lnlstm_backward", [&] {
    const Regularisation<scalar_t> reg(rm, zs, zoneout, state0);
    result = backward_impl<scalar_t>(g, h0, c0, p, f, v, reg);
  });
  return result;
}

}  // namespace recur_native

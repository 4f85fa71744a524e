// The LSTM family in the native engine: LSTM (optionally projected), peephole LSTM and CIFG.
//
// Equations (see recur/cells/lstm.py, peephole.py, cifg.py; a_* gate pre-activations,
// a = xp_t + h_{t-1} W_hh^T + b_hh, gate blocks (i, f, g, o), CIFG (i, g, o) with f = 1 - i):
//   i = σ(a_i [+ p_i c_{t-1}]),  f = σ(a_f [+ p_f c_{t-1}]),  g = tanh a_g
//   c_t = f c_{t-1} + i g,       o = σ(a_o [+ p_o c_t]),     m_t = o tanh c_t
//   h_t = m_t, or h_t = m_t W_hr^T with a projection (P = proj_size)
// Backward (dm = dh, or dh W_hr with a projection; derivatives from the saved activations):
//   LSTM:     dc += dm o (1 - tanh² c);  da = (dc g i(1-i), dc c_{t-1} f(1-f), dc i (1-g²),
//             dm tanh c o(1-o));  dc_{t-1} = dc f
//   peephole: da_o = dm tanh c o(1-o);  dc += dm o (1 - tanh² c) + da_o p_o;  da_i, da_f, da_g
//             as LSTM;  dc_{t-1} = dc f + da_i p_i + da_f p_f
//   CIFG:     dc += dm o (1 - tanh² c);  da = (dc (g - c_{t-1}) i(1-i), dc i (1-g²),
//             dm tanh c o(1-o));  dc_{t-1} = dc (1 - i)
//   dh_{t-1} = da W_hh (one GEMM a step).  After the loop, over all T*B rows at once:
//   dW_hh = Σ da^T h_{t-1},  db_hh = Σ da,  dW_hr = Σ dh^T m,  dp_i = Σ da_i c_{t-1},
//   dp_f = Σ da_f c_{t-1},  dp_o = Σ da_o c_t.  d xp = da.
// Recurrent dropout and zoneout as in common.h (Regularisation): the product reads m ⊙ h_{t-1}
// (P values); zoneout blends h_t (offset 0) and c_t (offset P) after the step, so cs holds the
// blended c_t and the backward recomputes the cell's own c̃_t = f c_{t-1} + i g (for tanh c̃ and
// dp_o) from the saved gates: cheaper than saving c̃ too, a copy and a (T, B, H) write.
//
// Tensors (G gates, H hidden, P = h size; "ring" buffers hold 2 steps when not training):
//   forward in:  xp (T, B, G*H), state0 = [h0 (B, P), c0 (B, H)],
//                params = [weight_hh (G*H, P), bias_hh? (G*H), weight_hr? (P, H),
//                          weight_pi?, weight_pf?, weight_po? (H)],  options = [variant]
//   forward out: [outputs (T, B, P), h_n, c_n, gates (T, B, G*H) activations,
//                 cs (T, B, H) c_t, hs (T, B, P) h_t (only with a validity mask), ms (T, B, H)
//                 (only with a projection), us (T, B, P) m ⊙ h_{t-1} (only with dropout)]
//                 — the saved ones only when training.
//   backward in: grads = [d_outputs?, d_h_n?, d_c_n?], forward = [outputs, saved...]
//   backward out: [d_xp (T, B, G*H), d_h0, d_c0, d_weight_hh, d_bias_hh, d_weight_hr, d_p_i,
//                 d_p_f, d_p_o] (undefined where the parameter is absent).
#include "common.h"

namespace recur_native {
namespace {

enum Variant : int64_t { kLSTM = 0, kPeephole = 1, kCIFG = 2 };

// Offsets of the gate blocks in a row of G*H: LSTM and peephole (i, f, g, o), CIFG (i, g, o).
template <int V>
struct Gates {
  static constexpr int64_t i = 0, f = 1, g = V == kCIFG ? 1 : 2, o = V == kCIFG ? 2 : 3;
};

// One row of one step. `a` holds h_{t-1} W_hh^T on entry and the activations on exit.
template <typename T, int V>
inline void forward_row(int64_t H, const T* __restrict x, const T* __restrict bias,
                        T* __restrict a, const T* __restrict cp, T* __restrict c,
                        T* __restrict m, const T* __restrict pi, const T* __restrict pf,
                        const T* __restrict po) {
  using G = Gates<V>;
  T* ai = a + G::i * H;
  T* af = a + G::f * H;
  T* ag = a + G::g * H;
  T* ao = a + G::o * H;
  const T *xi = x + G::i * H, *xf = x + G::f * H, *xg = x + G::g * H, *xo = x + G::o * H;
  const T *bi = bias + G::i * H, *bf = bias + G::f * H, *bg = bias + G::g * H;
  const T* bo = bias + G::o * H;
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    T zi = ai[j] + xi[j] + bi[j];
    T zo = ao[j] + xo[j] + bo[j];
    if constexpr (V == kPeephole) zi += pi[j] * cp[j];
    const T i = sigmoid(zi);
    const T g = tanh_(ag[j] + xg[j] + bg[j]);
    T f;
    if constexpr (V == kCIFG) {
      f = T(1) - i;
    } else {
      T zf = af[j] + xf[j] + bf[j];
      if constexpr (V == kPeephole) zf += pf[j] * cp[j];
      f = sigmoid(zf);
      af[j] = f;
    }
    const T cn = f * cp[j] + i * g;
    if constexpr (V == kPeephole) zo += po[j] * cn;
    const T o = sigmoid(zo);
    ai[j] = i;
    ag[j] = g;
    ao[j] = o;
    c[j] = cn;
    m[j] = o * tanh_(cn);
  }
}

// One row of the backward step: reads dm and dc, writes the gate gradients and dc_{t-1} in dc.
// `c` holds the cell's own c_t. Under zoneout (kZoneout), where cs holds the blended c_t, the
// cell's c̃_t = f c_{t-1} + i g is recomputed here from the activations, as forward_row computed
// it, and written to `c` for the peephole's dp_o only (else c is null): reading it back from a
// saved copy, or recomputing it in a pass of its own, costs more; and dc_{t-1} gets the carry
// k dc_t, the share of dc_t that skipped the cell.
template <typename T, int V, bool kZoneout>
inline void backward_row(int64_t H, const T* __restrict a, const T* __restrict cp,
                         T* __restrict c, const T* __restrict dm, T* __restrict dc,
                         T* __restrict d, const T* __restrict pi, const T* __restrict pf,
                         const T* __restrict po, const T* __restrict carry) {
  using G = Gates<V>;
  const T *ai = a + G::i * H, *af = a + G::f * H, *ag = a + G::g * H, *ao = a + G::o * H;
  T *di = d + G::i * H, *df = d + G::f * H, *dg = d + G::g * H, *dout = d + G::o * H;
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T i = ai[j], g = ag[j], o = ao[j];
    T cn;
    if constexpr (!kZoneout) {
      cn = c[j];
    } else if constexpr (V == kCIFG) {
      cn = (T(1) - i) * cp[j] + i * g;
    } else {
      cn = af[j] * cp[j] + i * g;
      if constexpr (V == kPeephole) c[j] = cn;
    }
    const T tc = tanh_(cn);
    const T da_o = dm[j] * tc * o * (T(1) - o);
    T dcj = dc[j] + dm[j] * o * (T(1) - tc * tc);
    if constexpr (V == kPeephole) dcj += da_o * po[j];
    dg[j] = dcj * i * (T(1) - g * g);
    dout[j] = da_o;
    if constexpr (V == kCIFG) {
      di[j] = dcj * (g - cp[j]) * i * (T(1) - i);
      dc[j] = dcj * (T(1) - i);
    } else {
      const T f = af[j];
      const T da_i = dcj * g * i * (T(1) - i);
      const T da_f = dcj * cp[j] * f * (T(1) - f);
      di[j] = da_i;
      df[j] = da_f;
      dc[j] = dcj * f;
      if constexpr (V == kPeephole) dc[j] += da_i * pi[j] + da_f * pf[j];
    }
    if constexpr (kZoneout) dc[j] += carry[j];
  }
}

template <typename T, int V>
TensorList forward_impl(const Tensor& xp, const Tensor& h0, const Tensor& c0,
                        const OptTensorList& p, const OptTensor& valid_t,
                        const Regularisation<T>& reg, bool training) {
  const int64_t steps = xp.size(0), B = xp.size(1), GH = xp.size(2);
  const int64_t H = c0.size(1), P = h0.size(1);
  const bool* valid = valid_ptr(valid_t);
  const bool proj = p[2].has_value();
  const auto opts = xp.options();
  const int64_t saved = training ? steps : 1;  // steps of gates and m kept
  const int64_t ring = training ? steps : 2;   // steps of c (and of h with a mask) kept
  Tensor outputs = at::empty({steps, B, P}, opts);
  Tensor gates = at::empty({saved, B, GH}, opts);
  Tensor cs = at::empty({ring, B, H}, opts);
  Tensor hs = valid ? at::empty({ring, B, P}, opts) : Tensor();  // h_t when it is not outputs[t]
  Tensor ms = proj ? at::empty({saved, B, H}, opts) : Tensor();
  const bool zone = reg.zoneout();
  Tensor us = reg.dropout() ? at::empty({saved, B, P}, opts) : Tensor();
  Tensor zero_bias = p[1].has_value() ? Tensor() : at::zeros({GH}, opts);
  const Tensor w_hh_t = transposed(*p[0]);  // W_hh^T, the right-hand side mm_nn reads
  const T* w_t = w_hh_t.data_ptr<T>();
  const T* bias = p[1].has_value() ? p[1]->data_ptr<T>() : zero_bias.data_ptr<T>();
  const Tensor w_hr_t = proj ? transposed(*p[2]) : Tensor();  // W_hr^T (H, P)
  const T* w_hr = proj ? w_hr_t.data_ptr<T>() : nullptr;
  const T *pi = ptr<T>(p[3]), *pf = ptr<T>(p[4]), *po = ptr<T>(p[5]);
  const T* x = xp.data_ptr<T>();
  T* out = outputs.data_ptr<T>();
  T* h_state = valid ? hs.data_ptr<T>() : out;  // where h_t lives
  const int64_t h_ring = valid ? ring : steps;
  const int64_t work = steps * GH * (P + 8) + (proj ? steps * P * H : 0);  // per batch row
  for_batch_slices(B, work, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    const T* h_prev = h0.data_ptr<T>() + b0 * P;
    const T* c_prev = c0.data_ptr<T>() + b0 * H;
    std::vector<int16_t> noise = reg.noise_buffer();
    for (int64_t t = 0; t < steps; ++t) {
      T* a = gates.data_ptr<T>() + ((training ? t : 0) * B + b0) * GH;
      T* c = cs.data_ptr<T>() + ((t % ring) * B + b0) * H;
      T* h = h_state + ((t % h_ring) * B + b0) * P;
      T* m = proj ? ms.data_ptr<T>() + ((training ? t : 0) * B + b0) * H : h;
      const int64_t ldm = proj ? H : P;
      T* u = reg.dropout() ? us.data_ptr<T>() + ((training ? t : 0) * B + b0) * P : nullptr;
      mm_nn<T>(a, GH, reg.input(h_prev, u, b0, nb, P), P, w_t, GH, nb, GH, P, T(0));
      for (int64_t b = 0; b < nb; ++b) {
        if (!is_valid(valid, t, B, b0 + b)) {  // padded: keep the state, output zero
          std::copy(c_prev + b * H, c_prev + (b + 1) * H, c + b * H);
          if (proj) std::fill(m + b * H, m + (b + 1) * H, T(0));
          continue;
        }
        forward_row<T, V>(H, x + (t * B + b0 + b) * GH, bias, a + b * GH, c_prev + b * H,
                          c + b * H, m + b * ldm, pi, pf, po);
      }
      if (proj) mm_nn<T>(h, P, m, H, w_hr, P, nb, P, H, T(0));
      if (zone) {
        for (int64_t b = 0; b < nb; ++b) {
          if (!is_valid(valid, t, B, b0 + b)) continue;
          const int16_t* z = reg.row_noise(t, b0 + b, noise);
          reg.blend(c + b * H, c_prev + b * H, nullptr, z, P, H);
          reg.blend(h + b * P, h_prev + b * P, nullptr, z, 0, P);
        }
      }
      if (valid) {
        T* o = out + (t * B + b0) * P;
        for (int64_t b = 0; b < nb; ++b) {
          const bool keep = is_valid(valid, t, B, b0 + b);
          if (!keep) std::copy(h_prev + b * P, h_prev + (b + 1) * P, h + b * P);
          for (int64_t j = 0; j < P; ++j) o[b * P + j] = keep ? h[b * P + j] : T(0);
        }
      }
      h_prev = h;
      c_prev = c;
    }
  });
  TensorList result{outputs, at::empty({B, P}, opts), at::empty({B, H}, opts)};
  const T* h_last = h_state + ((steps - 1) % h_ring) * B * P;
  const T* c_last = cs.data_ptr<T>() + ((steps - 1) % ring) * B * H;
  std::copy(h_last, h_last + B * P, result[1].data_ptr<T>());
  std::copy(c_last, c_last + B * H, result[2].data_ptr<T>());
  if (training) result.insert(result.end(), {gates, cs, hs, ms, us});
  return result;
}

template <typename T, int V>
TensorList backward_impl(const OptTensorList& grads, const Tensor& h0, const Tensor& c0,
                         const OptTensorList& p, const OptTensorList& fwd,
                         const OptTensor& valid_t, const Regularisation<T>& reg) {
  const Tensor outputs = *fwd[0], gates = *fwd[1], cs = *fwd[2];
  const Tensor hs = value_or_undefined(fwd[3]), ms = value_or_undefined(fwd[4]);
  const T* us = ptr<T>(fwd[5]);
  const bool zone = reg.zoneout();
  const int64_t steps = gates.size(0), B = gates.size(1), GH = gates.size(2);
  const int64_t H = c0.size(1), P = h0.size(1);
  const bool* valid = valid_ptr(valid_t);
  const bool proj = p[2].has_value();
  const auto opts = gates.options();
  Tensor d_xp = at::empty({steps, B, GH}, opts);
  Tensor dh = at::zeros({2, B, P}, opts);  // ping-pong: dh_t read, dh_{t-1} written
  Tensor d_c0 = grads[2].has_value() ? grads[2]->clone() : at::zeros({B, H}, opts);
  if (grads[1].has_value()) dh[0].copy_(*grads[1]);
  Tensor dhs = proj ? at::empty({steps, B, P}, opts) : Tensor();  // dh_t, for dW_hr
  Tensor dm_buffer = proj ? at::empty({B, H}, opts) : Tensor();
  const T* d_out = ptr<T>(grads[0]);
  const T* w_hh = p[0]->data_ptr<T>();
  const T* w_hr = ptr<T>(p[2]);
  const T *pi = ptr<T>(p[3]), *pf = ptr<T>(p[4]), *po = ptr<T>(p[5]);
  const T* h_states = (valid ? hs : outputs).data_ptr<T>();
  Tensor carry_c = zone ? at::empty({B, H}, opts) : Tensor();  // k ⊙ dc_t
  Tensor masked = reg.dropout() ? at::empty({B, P}, opts) : Tensor();  // da W_hh before m ⊙
  // Under zoneout, the peephole's dp_o reads c̃_t, which backward_row recomputes into c_cand.
  Tensor c_cand = zone && V == kPeephole ? at::empty({steps, B, H}, opts) : Tensor();
  const int64_t work = steps * GH * (P + 8) + (proj ? steps * P * H : 0);  // per batch row
  for_batch_slices(B, work, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    T* dc = d_c0.data_ptr<T>() + b0 * H;
    T* dh_cur = dh.data_ptr<T>() + b0 * P;
    T* dh_next = dh_cur + B * P;
    T* carry_c_b0 = zone ? carry_c.data_ptr<T>() + b0 * H : nullptr;
    T* masked_b0 = reg.dropout() ? masked.data_ptr<T>() + b0 * P : nullptr;
    std::vector<int16_t> noise = reg.noise_buffer();
    for (int64_t t = steps - 1; t >= 0; --t) {
      const T* a = gates.data_ptr<T>() + (t * B + b0) * GH;
      // the cell's own c_t: cs, or under zoneout c_cand (null: recomputed, not kept)
      const Tensor& c_own = zone ? c_cand : cs;
      T* c_cell = c_own.defined() ? c_own.data_ptr<T>() + (t * B + b0) * H : nullptr;
      const T* c_prev = (t ? cs.data_ptr<T>() + (t - 1) * B * H : c0.data_ptr<T>()) + b0 * H;
      T* d = d_xp.data_ptr<T>() + (t * B + b0) * GH;
      // dh_t = carried dh + d_outputs[t] on valid rows; padded rows pass dh straight through.
      T* dm = dh_cur;
      if (proj) {
        T* dh_t = dhs.data_ptr<T>() + (t * B + b0) * P;
        for (int64_t b = 0; b < nb; ++b) {
          const bool keep = is_valid(valid, t, B, b0 + b);
          const T* g_out = d_out ? d_out + (t * B + b0 + b) * P : nullptr;
          for (int64_t j = 0; j < P; ++j) {
            dh_t[b * P + j] = keep ? dh_cur[b * P + j] + (g_out ? g_out[j] : T(0)) : T(0);
            dh_next[b * P + j] = keep ? T(0) : dh_cur[b * P + j];
          }
        }
        // Zoneout: dh_t (before it reaches m) and dc_t split into the cell's shares and the
        // carries, both here so that the row's noise is computed once.
        if (zone) {
          for (int64_t b = 0; b < nb; ++b) {
            if (is_valid(valid, t, B, b0 + b)) {
              const int16_t* z = reg.row_noise(t, b0 + b, noise);
              reg.split(dh_t + b * P, dh_next + b * P, z, 0, P);
              reg.split(dc + b * H, carry_c_b0 + b * H, z, P, H);
            }
          }
        }
        dm = dm_buffer.data_ptr<T>() + b0 * H;
        mm_nn<T>(dm, H, dh_t, P, w_hr, H, nb, H, P, T(0));
      }
      for (int64_t b = 0; b < nb; ++b) {
        if (!is_valid(valid, t, B, b0 + b)) {
          std::fill(d + b * GH, d + (b + 1) * GH, T(0));
          if (!proj) std::copy(dh_cur + b * P, dh_cur + (b + 1) * P, dh_next + b * P);
          if (zone && c_cell) std::fill(c_cell + b * H, c_cell + (b + 1) * H, T(0));  // dp_o x 0
          continue;
        }
        T* dm_b = dm + b * H;
        if (!proj) {
          if (d_out) {
            const T* g_out = d_out + (t * B + b0 + b) * P;
#pragma omp simd
            for (int64_t j = 0; j < P; ++j) dm_b[j] += g_out[j];
          }
          if (valid) std::fill(dh_next + b * P, dh_next + (b + 1) * P, T(0));
        }
        if (zone && !proj) {  // (with a projection, both were split before the loop)
          const int16_t* z = reg.row_noise(t, b0 + b, noise);
          reg.split(dm_b, dh_next + b * P, z, 0, P);
          reg.split(dc + b * H, carry_c_b0 + b * H, z, P, H);
        }
        T* c_b = c_cell ? c_cell + b * H : nullptr;
        if (zone) {
          backward_row<T, V, true>(H, a + b * GH, c_prev + b * H, c_b, dm_b, dc + b * H,
                                   d + b * GH, pi, pf, po, carry_c_b0 + b * H);
        } else {
          backward_row<T, V, false>(H, a + b * GH, c_prev + b * H, c_b, dm_b, dc + b * H,
                                    d + b * GH, pi, pf, po, nullptr);
        }
      }
      // Padded rows (with a mask) left their dh in dh_next, zoneout its carry k dh_t: accumulate.
      const T beta = valid || zone ? T(1) : T(0);
      reg.backward_gemm(dh_next, d, GH, w_hh, P, b0, nb, P, GH, beta, masked_b0);
      std::swap(dh_cur, dh_next);
    }
  });
  const int64_t rows = steps * B;
  TensorList result{d_xp, at::empty({B, P}, opts), d_c0};
  const T* dh0 = dh.data_ptr<T>() + (steps % 2) * B * P;  // every slice swapped T times
  std::copy(dh0, dh0 + B * P, result[1].data_ptr<T>());
  Tensor dw_hh = at::empty({GH, P}, opts);
  recurrent_weight_grad<T>(dw_hh.data_ptr<T>(), GH, P, d_xp.data_ptr<T>(), GH, h0.data_ptr<T>(),
                           h_states, P, us, steps, B);
  result.push_back(dw_hh);
  Tensor db_hh;
  if (p[1].has_value()) {
    db_hh = at::empty({GH}, opts);
    column_sum<T>(db_hh.data_ptr<T>(), d_xp.data_ptr<T>(), GH, rows, GH);
  }
  result.push_back(db_hh);
  Tensor dw_hr;
  if (proj) {
    dw_hr = at::empty({P, H}, opts);
    mm_tn<T>(dw_hr.data_ptr<T>(), H, dhs.data_ptr<T>(), P, ms.data_ptr<T>(), H, rows, P, H, T(0));
  }
  result.push_back(dw_hr);
  if constexpr (V == kPeephole) {
    const T* dx = d_xp.data_ptr<T>();
    const T* c_all = cs.data_ptr<T>();
    Tensor dpi = at::empty({H}, opts), dpf = at::empty({H}, opts), dpo = at::empty({H}, opts);
    // c_{t-1}: c0 for the first B rows, then cs[0 .. T-2].
    const auto previous_c_dot = [&](T* out, int64_t gate) {
      column_dot<T>(out, dx + gate * H, GH, c0.data_ptr<T>(), H, B, H, false);
      column_dot<T>(out, dx + B * GH + gate * H, GH, c_all, H, rows - B, H, true);
    };
    previous_c_dot(dpi.data_ptr<T>(), 0);
    previous_c_dot(dpf.data_ptr<T>(), 1);
    const T* c_cells = (zone ? c_cand : cs).data_ptr<T>();
    column_dot<T>(dpo.data_ptr<T>(), dx + 3 * H, GH, c_cells, H, rows, H, false);
    result.insert(result.end(), {dpi, dpf, dpo});
  } else {
    result.insert(result.end(), {Tensor(), Tensor(), Tensor()});
  }
  return result;
}

template <typename F>
TensorList by_variant(int64_t variant, const F& f) {
  if (variant == kPeephole) return f(std::integral_constant<int, kPeephole>{});
  if (variant == kCIFG) return f(std::integral_constant<int, kCIFG>{});
  TORCH_CHECK(variant == kLSTM, "recur native lstm: unknown variant ", variant);
  return f(std::integral_constant<int, kLSTM>{});
}

}  // namespace

TensorList lstm_forward(RECUR_FORWARD_ARGS) {
  const Tensor x = xp.contiguous(), h0 = state0[0].contiguous(), c0 = state0[1].contiguous();
  const OptTensorList p = contiguous(params);
  const OptTensor v = contiguous(valid);
  const OptTensor rm = contiguous(recurrent_mask), zs = contiguous(zoneout_seed);
  TensorList result;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "recur_lstm_forward", [&] {
    const Regularisation<scalar_t> reg(rm, zs, zoneout, state0);
    result = by_variant(options[0], [&](auto variant) {
      return forward_impl<scalar_t, decltype(variant)::value>(x, h0, c0, p, v, reg, training);
    });
  });
  return result;
}

TensorList lstm_backward(RECUR_BACKWARD_ARGS) {
  const OptTensorList g = contiguous(grads), p = contiguous(params), f = contiguous(forward);
  const Tensor h0 = state0[0].contiguous(), c0 = state0[1].contiguous();
  const OptTensor v = contiguous(valid);
  const OptTensor rm = contiguous(recurrent_mask), zs = contiguous(zoneout_seed);
  TensorList result;
  AT_DISPATCH_FLOATING_TYPES(h0.scalar_type(), "recur_lstm_backward", [&] {
    const Regularisation<scalar_t> reg(rm, zs, zoneout, state0);
    result = by_variant(options[0], [&](auto variant) {
      return backward_impl<scalar_t, decltype(variant)::value>(g, h0, c0, p, f, v, reg);
    });
  });
  return result;
}

}  // namespace recur_native

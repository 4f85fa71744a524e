// The LSTM family's pointwise step for one row (see lstm.cpp for the equations), shared by the
// two ways the native engine splits a step between threads: by batch rows (lstm.cpp) and by
// hidden units (lstm_units.h). A row's buffers hold G gate blocks of H values side by side; the
// functions run on n units of each block from the pointers given, with `stride` (H) between the
// blocks, so a thread that owns units [u0, u0 + n) passes pointers offset by u0.
#pragma once

#include "common.h"

namespace recur_native {

enum Variant : int64_t { kLSTM = 0, kPeephole = 1, kCIFG = 2 };

// Offsets of the gate blocks in a row of G*H: LSTM and peephole (i, f, g, o), CIFG (i, g, o).
template <int V>
struct Gates {
  static constexpr int64_t i = 0, f = 1, g = V == kCIFG ? 1 : 2, o = V == kCIFG ? 2 : 3;
};

// One row of one step: `r` holds h_{t-1} W_hh^T (gate blocks `r_stride` apart), `a` receives
// the activations. r may be a itself (the batch-sliced loop computes the product in place):
// every r value is read before the a value at the same place is written, so no __restrict.
template <typename T, int V>
inline void forward_row(int64_t n, int64_t stride, const T* __restrict x,
                        const T* __restrict bias, const T* r, int64_t r_stride, T* a,
                        const T* __restrict cp, T* __restrict c, T* __restrict m,
                        const T* __restrict pi, const T* __restrict pf, const T* __restrict po) {
  using G = Gates<V>;
  const T *ri = r + G::i * r_stride, *rf = r + G::f * r_stride, *rg = r + G::g * r_stride;
  const T* ro = r + G::o * r_stride;
  T* ai = a + G::i * stride;
  T* af = a + G::f * stride;
  T* ag = a + G::g * stride;
  T* ao = a + G::o * stride;
  const T *xi = x + G::i * stride, *xf = x + G::f * stride, *xg = x + G::g * stride;
  const T* xo = x + G::o * stride;
  const T *bi = bias + G::i * stride, *bf = bias + G::f * stride, *bg = bias + G::g * stride;
  const T* bo = bias + G::o * stride;
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    T zi = ri[j] + xi[j] + bi[j];
    T zo = ro[j] + xo[j] + bo[j];
    if constexpr (V == kPeephole) zi += pi[j] * cp[j];
    const T i = sigmoid(zi);
    const T g = tanh_(rg[j] + xg[j] + bg[j]);
    T f;
    if constexpr (V == kCIFG) {
      f = T(1) - i;
    } else {
      T zf = rf[j] + xf[j] + bf[j];
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
template <typename T, int V>
inline void backward_row(int64_t n, int64_t stride, const T* __restrict a,
                         const T* __restrict cp, const T* __restrict c, const T* __restrict dm,
                         T* __restrict dc, T* __restrict d, const T* __restrict pi,
                         const T* __restrict pf, const T* __restrict po) {
  using G = Gates<V>;
  const T *ai = a + G::i * stride, *af = a + G::f * stride, *ag = a + G::g * stride;
  const T* ao = a + G::o * stride;
  T *di = d + G::i * stride, *df = d + G::f * stride, *dg = d + G::g * stride;
  T* dout = d + G::o * stride;
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const T i = ai[j], g = ag[j], o = ao[j];
    const T tc = tanh_(c[j]);
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
  }
}

}  // namespace recur_native

// The LSTM family's time loop split by hidden units (for_unit_slices in common.h), forward and
// backward, for layers without a projection or recurrent dropout (both need all of h_{t-1} or m
// before a product, one more barrier a step; lstm.cpp runs them on batch slices instead).
//
// Forward, thread τ owning units U = [u0, u1): its columns of W_hh^T (the G gate blocks'
// columns U, copied side by side into one (H, G n) matrix) give r = h_{t-1} W_U^T for every row
// in one GEMM; the pointwise step (lstm_rows.h) writes U of the activations, c_t and h_t; a barrier
// completes h_t before the next product. Zoneout and padded rows act unit by unit, so U of them
// is all a thread touches.
// Backward, per step from the last: thread τ runs the pointwise backward on U of every row
// (dh_t, dc_t of U in, da_t of U out), a barrier completes da_t, and then dh_{t-1} of U is
// da_t W_hh[:, U], one GEMM with W_hh's columns U. Between barriers no thread writes what
// another reads: h, c, da of a step are written once, dh ping-pongs between two buffers.
#pragma once

#include "lstm_rows.h"

namespace recur_native {

// p + offset, or null when the parameter is absent (peephole weights of other variants).
template <typename T>
inline const T* offset(const T* p, int64_t u0) {
  return p == nullptr ? nullptr : p + u0;
}

// The forward's buffers as lstm.cpp allocates them; no projection, so h has H values a row.
template <typename T>
struct LstmForwardBuffers {
  int64_t steps, batch, hidden, ring, h_ring;  // ring: steps kept of c; h_ring: of h_state
  bool training;
  const bool* valid;  // (T, B) or null
  const T *x, *bias, *w_hh_t, *h0, *c0, *pi, *pf, *po;  // w_hh_t: W_hh^T (H, G H)
  T *gates, *cs, *h_state, *out, *c_cand;  // h_state = out without a validity mask
};

template <typename T, int V>
void forward_by_units(const LstmForwardBuffers<T>& f, const Regularisation<T>& reg,
                      int64_t slices) {
  constexpr int64_t G = V == kCIFG ? 3 : 4;
  const int64_t B = f.batch, H = f.hidden, GH = G * H;
  for_unit_slices(H, slices, [&](int64_t u0, int64_t u1, const auto& sync) {
    const int64_t n = u1 - u0, Gn = G * n;
    std::vector<T> w(H * Gn), r(B * Gn);
    for (int64_t k = 0; k < H; ++k) {
      for (int64_t g = 0; g < G; ++g) {
        const T* column = f.w_hh_t + k * GH + g * H + u0;
        std::copy(column, column + n, w.data() + k * Gn + g * n);
      }
    }
    const T* h_prev = f.h0;
    const T* c_prev = f.c0;
    for (int64_t t = 0; t < f.steps; ++t) {
      T* a = f.gates + (f.training ? t : 0) * B * GH;
      T* c = f.cs + (t % f.ring) * B * H;
      T* h = f.h_state + (t % f.h_ring) * B * H;
      if (n > 0) mm_nn<T>(r.data(), Gn, h_prev, H, w.data(), Gn, B, Gn, H, T(0));
      for (int64_t b = 0; b < B && n > 0; ++b) {
        const int64_t row = b * H + u0;
        T* cand = reg.zoneout() && f.training ? f.c_cand + t * B * H + row : nullptr;
        if (!is_valid(f.valid, t, B, b)) {  // padded: keep the state (c̃ too: kept finite)
          std::copy(c_prev + row, c_prev + row + n, c + row);
          std::copy(h_prev + row, h_prev + row + n, h + row);
          if (cand != nullptr) std::copy(c_prev + row, c_prev + row + n, cand);
          continue;
        }
        forward_row<T, V>(n, H, f.x + (t * B + b) * GH + u0, f.bias + u0, r.data() + b * Gn, n,
                          a + b * GH + u0, c_prev + row, c + row, h + row, offset(f.pi, u0),
                          offset(f.pf, u0), offset(f.po, u0));
        if (reg.zoneout()) {
          reg.blend(c + row, c_prev + row, cand, t, b, H + u0, n);
          reg.blend(h + row, h_prev + row, nullptr, t, b, u0, n);
        }
      }
      if (f.valid != nullptr) {
        for (int64_t b = 0; b < B; ++b) {
          const bool keep = is_valid(f.valid, t, B, b);
          T* o = f.out + (t * B + b) * H + u0;
          const T* hb = h + b * H + u0;
          for (int64_t j = 0; j < n; ++j) o[j] = keep ? hb[j] : T(0);
        }
      }
      sync();
      h_prev = h;
      c_prev = c;
    }
  });
}

// The backward's buffers as lstm.cpp allocates them (no projection: dm = dh).
template <typename T>
struct LstmBackwardBuffers {
  int64_t steps, batch, hidden;
  const bool* valid;
  const T *d_out, *w_hh, *gates, *c_cells, *cs, *c0, *pi, *pf, *po;
  T *d_xp, *dh, *dc, *carry_h, *carry_c;  // dh: 2 ping-pong (B, H) buffers, dh_T in the first
};

template <typename T, int V>
void backward_by_units(const LstmBackwardBuffers<T>& f, const Regularisation<T>& reg,
                       int64_t slices) {
  constexpr int64_t G = V == kCIFG ? 3 : 4;
  const int64_t B = f.batch, H = f.hidden, GH = G * H;
  const bool zone = reg.zoneout();
  for_unit_slices(H, slices, [&](int64_t u0, int64_t u1, const auto& sync) {
    const int64_t n = u1 - u0;
    T* dh_cur = f.dh;
    T* dh_next = f.dh + B * H;
    for (int64_t t = f.steps - 1; t >= 0; --t) {
      const T* a = f.gates + t * B * GH;
      const T* c = f.c_cells + t * B * H;
      const T* c_prev = t ? f.cs + (t - 1) * B * H : f.c0;
      T* d = f.d_xp + t * B * GH;
      for (int64_t b = 0; b < B && n > 0; ++b) {
        const int64_t row = b * H + u0;
        if (!is_valid(f.valid, t, B, b)) {  // padded: no gate gradient, dh passes through
          for (int64_t g = 0; g < G; ++g) std::fill_n(d + b * GH + g * H + u0, n, T(0));
          std::copy(dh_cur + row, dh_cur + row + n, dh_next + row);
          continue;
        }
        T* __restrict dm = dh_cur + row;
        if (f.d_out != nullptr) {
          const T* __restrict g_out = f.d_out + t * B * H + row;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) dm[j] += g_out[j];
        }
        if (f.valid != nullptr) std::fill_n(dh_next + row, n, T(0));  // the GEMM adds onto it
        if (zone) {
          reg.split(dm, f.carry_h + row, t, b, u0, n);
          reg.split(f.dc + row, f.carry_c + row, t, b, H + u0, n);
        }
        backward_row<T, V>(n, H, a + b * GH + u0, c_prev + row, c + row, dm, f.dc + row,
                           d + b * GH + u0, offset(f.pi, u0), offset(f.pf, u0),
                           offset(f.po, u0));
        if (zone) {
          T* __restrict dcb = f.dc + row;
          const T* __restrict kc = f.carry_c + row;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) dcb[j] += kc[j];
        }
      }
      sync();
      if (n > 0) {
        const T beta = f.valid != nullptr ? T(1) : T(0);
        mm_nn<T>(dh_next + u0, H, d, GH, f.w_hh + u0, H, B, n, GH, beta);
      }
      for (int64_t b = 0; zone && b < B; ++b) {
        if (!is_valid(f.valid, t, B, b)) continue;
        T* __restrict dhb = dh_next + b * H + u0;
        const T* __restrict kh = f.carry_h + b * H + u0;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) dhb[j] += kh[j];
      }
      std::swap(dh_cur, dh_next);
    }
  });
}

}  // namespace recur_native

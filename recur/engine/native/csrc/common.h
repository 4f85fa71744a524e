// Shared pieces of recur's native engine: activations, row-major GEMMs, batch slices.
//
// Layout: every buffer is time-major and row-major. A (T, B, N) tensor is T blocks of B rows of
// N contiguous values; step t of row b starts at ((t * B) + b) * N. Kernels take raw pointers
// into buffers allocated once per call, so the time loop itself never allocates.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/native/CPUBlas.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "zoneout_noise.h"

extern "C" {
// Fortran BLAS, exported by libtorch_cpu (MKL or OpenBLAS): the routine ATen's own mm calls,
// without the per-call dispatch and tensor bookkeeping that dominate at batch 1.
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
            const double* beta, double* c, const int* ldc);
}

namespace recur_native {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
using TensorList = std::vector<Tensor>;
using OptTensorList = std::vector<OptTensor>;
using OptTensorArg = c10::List<std::optional<Tensor>>;  // an operator's Tensor?[] argument

// The uniform signatures of every family's kernels (see ops.cpp).
#define RECUR_REGULARISATION_ARGS \
  const OptTensor &recurrent_mask, const OptTensor &zoneout_seed, double zoneout
#define RECUR_FORWARD_ARGS                                                                   \
  const Tensor &xp, at::TensorList state0, const OptTensorArg &params, const OptTensor &valid, \
      RECUR_REGULARISATION_ARGS, at::IntArrayRef options, at::ArrayRef<double> reals,          \
      bool training
#define RECUR_BACKWARD_ARGS                                                               \
  const OptTensorArg &grads, at::TensorList state0, const OptTensorArg &params,           \
      const OptTensorArg &forward, const OptTensor &valid, RECUR_REGULARISATION_ARGS,     \
      at::IntArrayRef options, at::ArrayRef<double> reals

// ------------------------------------------------------------------ activations
// exp by Cody-Waite range reduction, x = n ln2 + r with |r| <= ln2/2, then e^x = 2^n e^r.
// Branch-free (clamps and a magic-number round) so the loops below vectorise without
// -ffast-math. float: Cephes' degree-6 polynomial (about 1 ulp). double: Cephes' rational
// approximation (about 1 ulp), precise enough for the 1e-8 float64 comparisons with torch.
inline float exp_(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round(x / ln2)
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

inline double exp_(double x) {
  x = x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x);
  const double n = (x * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0;
  const double r = (x - n * 6.93145751953125e-1) - n * 1.42860682030941723212e-6;
  const double rr = r * r;
  const double p =
      r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr + 1.0);
  const double q =
      ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr +
       2.27265548208155028766e-1) * rr + 2.0;
  const double e = 1.0 + 2.0 * p / (q - p);  // e^r = (q + p) / (q - p)
  return e * std::bit_cast<double>((static_cast<int64_t>(n) + 1023) << 52);
}

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + exp_(-x));
}

// tanh z = 2σ(2z) − 1, as the Python cells compute it (one exp, no cancellation for large |z|).
template <typename T>
inline T tanh_(T x) {
  return T(2) / (T(1) + exp_(T(-2) * x)) - T(1);
}

// ------------------------------------------------------------------ GEMMs (row-major)
inline int blas_int(int64_t v) {
  TORCH_CHECK(v <= INT_MAX, "recur native engine: matrix dimension ", v, " exceeds BLAS int");
  return static_cast<int>(v);
}

template <typename T>
inline void blas_gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                      const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const int mi = blas_int(m), ni = blas_int(n), ki = blas_int(k);
  const int la = blas_int(std::max<int64_t>(lda, 1)), lb = blas_int(std::max<int64_t>(ldb, 1));
  const int lc = blas_int(std::max<int64_t>(ldc, 1));
  const T one = 1;
  if constexpr (std::is_same_v<T, float>) {
    sgemm_(&ta, &tb, &mi, &ni, &ki, &one, a, &la, b, &lb, &beta, c, &lc);
  } else {
    dgemm_(&ta, &tb, &mi, &ni, &ki, &one, a, &la, b, &lb, &beta, c, &lc);
  }
}

// BLAS is column-major: a row-major (r, c) matrix with row stride ld is its (c, r) transpose.

// C (rows, n) = beta C + A (rows, k) W^T, W (n, k): a product with a weight as stored.
template <typename T>
inline void mm_nt(T* c, int64_t ldc, const T* a, int64_t lda, const T* w, int64_t ldw,
                  int64_t rows, int64_t n, int64_t k, T beta) {
  blas_gemm<T>('T', 'N', n, rows, k, w, ldw, a, lda, beta, c, ldc);
}

// oneDNN's brgemm micro-kernel (through ATen's cpublas) for float32 products whose right-hand
// side is row-major (k, n). On the project's AMD EPYC (AVX-512) it ran the per-step recurrent
// products 1.2-1.9x faster than MKL's sgemm_, which takes its AVX2 code path on CPUs that are
// not Intel's. Probed once: a torch built without oneDNN's ukernel raises, and sgemm_ serves.
inline bool brgemm_available() {
  static const bool available = [] {
    try {
      const float a = 2, b = 3;
      float c = 0;
      at::native::cpublas::brgemm(1, 1, 1, 1, 1, 1, false, &a, &b, &c, false);
      return c == 6.0f;
    } catch (const c10::Error&) {
      return false;
    }
  }();
  return available;
}

// C (rows, n) = beta C + A (rows, k) W, W (k, n) row-major with stride ldw: the step products,
// h_{t-1} W_hh^T with W_hh^T transposed once a call (see transposed), and dgates W_hh.
template <typename T>
inline void mm_nn(T* c, int64_t ldc, const T* a, int64_t lda, const T* w, int64_t ldw,
                  int64_t rows, int64_t n, int64_t k, T beta) {
  if constexpr (std::is_same_v<T, float>) {
    if ((beta == 0.f || beta == 1.f) && rows > 0 && n > 0 && k > 0 && brgemm_available()) {
      at::native::cpublas::brgemm(rows, n, k, lda, ldw, ldc, beta == 1.f, a, w, c, false);
      return;
    }
  }
  blas_gemm<T>('N', 'N', n, rows, k, w, ldw, a, lda, beta, c, ldc);
}

// W^T of an (n, k) weight as a contiguous (k, n) tensor: the right-hand side of h W^T in the
// form mm_nn reads, made once a call rather than once a step.
inline Tensor transposed(const Tensor& w) { return w.t().contiguous(); }

// C (m, n) = beta C + D^T X, D (rows, m), X (rows, n): a weight gradient over all steps.
template <typename T>
inline void mm_tn(T* c, int64_t ldc, const T* d, int64_t ldd, const T* x, int64_t ldx,
                  int64_t rows, int64_t m, int64_t n, T beta) {
  blas_gemm<T>('N', 'T', n, m, rows, x, ldx, d, ldd, beta, c, ldc);
}

// dW = Σ_t D_t^T h_{t-1} with h_{-1} = h0 and h_t the rows of `hs` (T, B, ld): two GEMMs.
template <typename T>
inline void weight_grad(T* dw, int64_t m, int64_t n, const T* d, int64_t ldd, const T* h0,
                        const T* hs, int64_t ldh, int64_t steps, int64_t batch) {
  mm_tn<T>(dw, n, d, ldd, h0, n, batch, m, n, T(0));
  if (steps > 1) {
    mm_tn<T>(dw, n, d + batch * ldd, ldd, hs, ldh, (steps - 1) * batch, m, n, T(1));
  }
}

// dW = Σ_t D_t^T u_{t-1}: under recurrent dropout u_{t-1} = m ⊙ h_{t-1}, saved by the forward as
// `us` (T, B, n), one GEMM; else u = h (weight_grad).
template <typename T>
inline void recurrent_weight_grad(T* dw, int64_t m, int64_t n, const T* d, int64_t ldd,
                                  const T* h0, const T* hs, int64_t ldh, const T* us,
                                  int64_t steps, int64_t batch) {
  if (us != nullptr) {
    mm_tn<T>(dw, n, d, ldd, us, n, steps * batch, m, n, T(0));
  } else {
    weight_grad<T>(dw, m, n, d, ldd, h0, hs, ldh, steps, batch);
  }
}

// ------------------------------------------------------------------ reductions over rows
// out[j] = Σ_r d[r, j] (+ x[r, j] factor): bias, peephole and gain gradients in one pass.
template <typename T>
inline void column_sum(T* out, const T* d, int64_t ldd, int64_t rows, int64_t n,
                       bool accumulate = false) {
  if (!accumulate) std::fill(out, out + n, T(0));
  for (int64_t r = 0; r < rows; ++r) {
    const T* dr = d + r * ldd;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) out[j] += dr[j];
  }
}

template <typename T>
inline void column_dot(T* out, const T* d, int64_t ldd, const T* x, int64_t ldx, int64_t rows,
                       int64_t n, bool accumulate = false) {
  if (!accumulate) std::fill(out, out + n, T(0));
  for (int64_t r = 0; r < rows; ++r) {
    const T* dr = d + r * ldd;
    const T* xr = x + r * ldx;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) out[j] += dr[j] * xr[j];
  }
}

// ------------------------------------------------------------------ batch slices
// Rows of a batch never interact through time, so the time loop runs on disjoint slices of the
// batch in parallel, each slice from its first step to its last with single-threaded GEMMs
// (BLAS runs sequentially inside a parallel region): one fork and one join per sequence instead
// of a synchronisation per step, which on a small or shared CPU costs more than the step itself.
// Worth it once the work (multiply-adds over the whole sequence) covers the fork, and while a
// slice keeps a few rows for its GEMMs; a single slice leaves BLAS free to use the threads.
constexpr int64_t kParallelWork = 1 << 20;
constexpr int64_t kMinSliceRows = 4;

template <typename F>
inline void for_batch_slices(int64_t batch, int64_t work_per_row, const F& f) {
  const int64_t slices = std::min<int64_t>(at::get_num_threads(), batch / kMinSliceRows);
  if (slices < 2 || batch * work_per_row < kParallelWork || at::in_parallel_region()) {
    f(int64_t(0), batch);
    return;
  }
  at::parallel_for(0, slices, 1, [&](int64_t first, int64_t last) {
    for (int64_t s = first; s < last; ++s) f(s * batch / slices, (s + 1) * batch / slices);
  });
}

// ------------------------------------------------------------------ arguments
template <typename T>
inline const T* ptr(const OptTensor& t) {
  return t.has_value() && t->defined() ? t->data_ptr<T>() : nullptr;
}

inline OptTensor contiguous(const OptTensor& t) {
  if (!t.has_value() || !t->defined()) return std::nullopt;
  return t->contiguous();
}

inline OptTensorList contiguous(const OptTensorArg& list) {
  OptTensorList result;
  for (const auto& t : list) result.push_back(contiguous(static_cast<OptTensor>(t)));
  return result;
}

// The (T, B) validity mask as bytes, or nullptr when every step is valid.
inline const bool* valid_ptr(const OptTensor& valid) {
  return valid.has_value() && valid->defined() ? valid->data_ptr<bool>() : nullptr;
}

inline Tensor value_or_undefined(const OptTensor& t) { return t.has_value() ? *t : Tensor(); }

inline bool is_valid(const bool* valid, int64_t t, int64_t batch, int64_t b) {
  return valid == nullptr || valid[t * batch + b];
}

// ------------------------------------------------------------------ regularisation
// Recurrent dropout and zoneout inside the recurrence (recur/engine/regularisation.py):
//   recurrent dropout: each recurrent product reads u_{t-1} = m ⊙ h_{t-1}, m (B, P) scaled to
//     {0, 1/(1-p)}; backward dh_{t-1} += m ⊙ (d W_hh), dW_hh = Σ dᵀ u_{t-1} (u saved when
//     training, see recurrent_weight_grad)
//   zoneout: each state tensor s_t = k ⊙ s_{t-1} + (1 - k) ⊙ s̃_t after the cell's step, with
//     k = [noise < threshold(p)] in training, or the constant p in evaluation (no seed). The
//     kernels compute a row's noise (zoneout_noise.h) with row_noise where they use it; each
//     state tensor is at its offset in the row (h at 0, c at P). Backward ds̃_t = (1 - k) ds_t
//     into the cell and ds_{t-1} += k ds_t. k is turned into 0 or 1 and multiplied, which
//     vectorises (a select does not) and is still exact: 1 s_prev + 0 s̃.
// With neither, every kernel runs its plain path: the helpers are only called when active.
template <typename T>
struct Regularisation {
  const T* mask = nullptr;             // m (B, P), or null
  std::optional<ZoneoutNoise> noise;  // zoneout's noise in training
  int16_t threshold = 0;              // k = [noise < threshold]
  T keep_p = 0;                       // p: the constant k without noise

  // `state0` the call's initial state: the noise's batch and row width (ΣS_k).
  Regularisation(const OptTensor& m, const OptTensor& seed, double p, at::TensorList state0)
      : mask(ptr<T>(m)),
        // as recur.engine.regularisation.threshold: P(noise < t) = p to 1/65536 (p < 1)
        threshold(static_cast<int16_t>(std::floor(p * 65536 + 0.5) - 32768)),
        keep_p(static_cast<T>(p)) {
    if (seed.has_value() && seed->defined()) {
      int64_t width = 0;
      for (const Tensor& s : state0) width += s.size(1);
      noise.emplace(*seed, state0[0].size(0), width);
    }
  }

  bool dropout() const { return mask != nullptr; }
  bool zoneout() const { return keep_p > T(0); }

  // A buffer for row_noise (one per batch slice: the kernels run slices in parallel).
  std::vector<int16_t> noise_buffer() const {
    return std::vector<int16_t>(noise ? noise->row_size() : 0);
  }

  // Zoneout's noise for row (t, b), computed into `buffer`; null in evaluation (k = p).
  const int16_t* row_noise(int64_t t, int64_t b, std::vector<int16_t>& buffer) const {
    if (!noise) return nullptr;
    noise->row(t, b, buffer.data());
    return buffer.data();
  }

  // The recurrent product's input for rows [b0, b0 + nb) of P values: m ⊙ h written to u, or h.
  const T* input(const T* __restrict h, T* __restrict u, int64_t b0, int64_t nb,
                 int64_t P) const {
    if (mask == nullptr) return h;
    const T* __restrict m = mask + b0 * P;
#pragma omp simd
    for (int64_t i = 0; i < nb * P; ++i) u[i] = m[i] * h[i];
    return u;
  }

  // dh (rows [b0, b0 + nb), P values) = beta dh + m ⊙ (d W), W (K, P): the recurrent product's
  // backward. Without a mask, one GEMM into dh; with one, the GEMM goes through `scratch`.
  void backward_gemm(T* __restrict dh, const T* d, int64_t ldd, const T* w, int64_t ldw,
                     int64_t b0, int64_t nb, int64_t P, int64_t K, T beta,
                     T* __restrict scratch) const {
    if (mask == nullptr) {
      mm_nn<T>(dh, P, d, ldd, w, ldw, nb, P, K, beta);
      return;
    }
    mm_nn<T>(scratch, P, d, ldd, w, ldw, nb, P, K, T(0));
    const T* __restrict m = mask + b0 * P;
    if (beta == T(0)) {
#pragma omp simd
      for (int64_t i = 0; i < nb * P; ++i) dh[i] = m[i] * scratch[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < nb * P; ++i) dh[i] += m[i] * scratch[i];
    }
  }

  // Zoneout of n values of one row's state tensor at `offset` in the row's noise `row` (null:
  // k = p): s = k s_prev + (1 - k) s, s holding s̃ on entry (copied to `cand` first when the
  // backward needs it).
  void blend(T* __restrict s, const T* __restrict s_prev, T* __restrict cand,
             const int16_t* row, int64_t offset, int64_t n) const {
    if (cand != nullptr) std::copy(s, s + n, cand);
    if (row != nullptr) {
      const int16_t* __restrict z = row + offset;
      const int16_t thr = threshold;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        const T kj = z[j] < thr ? T(1) : T(0);
        s[j] = kj * s_prev[j] + (T(1) - kj) * s[j];
      }
    } else {
      const T p = keep_p;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) s[j] = p * s_prev[j] + (T(1) - p) * s[j];
    }
  }

  // k for n values of one row (noise as for blend) into `keep`: 0 or 1, or p.
  void keep_row(const int16_t* row, int64_t offset, int64_t n, T* __restrict keep) const {
    if (row != nullptr) {
      const int16_t* __restrict z = row + offset;
      const int16_t thr = threshold;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) keep[j] = z[j] < thr ? T(1) : T(0);
    } else {
      std::fill(keep, keep + n, keep_p);
    }
  }

  // Zoneout's backward for n values of one row (noise as for blend): carry = k ds (to ds_{t-1}),
  // ds -= carry.
  void split(T* __restrict d, T* __restrict carry, const int16_t* row, int64_t offset,
             int64_t n) const {
    if (row != nullptr) {
      const int16_t* __restrict z = row + offset;
      const int16_t thr = threshold;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        carry[j] = (z[j] < thr ? T(1) : T(0)) * d[j];
        d[j] -= carry[j];
      }
    } else {
      const T p = keep_p;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        carry[j] = p * d[j];
        d[j] -= carry[j];
      }
    }
  }
};

// ds_{t-1} += carry on the valid rows of a slice (zoneout's gradient past the cell).
template <typename T>
inline void add_carry(T* __restrict d, const T* __restrict carry, const bool* valid, int64_t t,
                      int64_t B, int64_t b0, int64_t nb, int64_t n) {
  for (int64_t b = 0; b < nb; ++b) {
    if (!is_valid(valid, t, B, b0 + b)) continue;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) d[b * n + j] += carry[b * n + j];
  }
}

}  // namespace recur_native

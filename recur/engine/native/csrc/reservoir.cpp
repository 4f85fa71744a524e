// The Echo State Network's reservoir update (recur/reservoir/kernel.py), the whole time loop in
// C++: per step one CSR product, the activation and the leak, with no Python in between.
//
//   z_t = W x_{t-1} + d_t,   x_t = (1 - a) x_{t-1} + a f(z_t)
//
// reservoir_run(drive (T, N[, B]), indptr (N + 1), indices, data (nnz), x0 (N[, B]), leak a,
// activation, inputs?, input_weights?, bias?) overwrites drive[t] with x_t and returns it.
// drive[t] must be contiguous, the steps need not be adjacent (the states are columns of a wider
// feature matrix); indptr and indices are both int32 (scipy's choice below 2^31 non-zeros: less
// to read a step) or both int64, data and x0 of drive's dtype. Activations: 0 tanh, 1 identity,
// 2 relu, 3 sigmoid, as common.h computes them (tanh z = 2σ(2z) − 1: a few ulp from the libm
// value, vectorised).
//
// With inputs u (T, K[, B]), input_weights W_u (N, K) and bias b (N), drive is only written:
// each thread forms d_t = b + W_u u_t for its rows itself, K unit-stride passes over them. For
// the few inputs of an ESN (K = 1 on Mackey–Glass) that is cheaper than the drive as one BLAS
// product and a bias pass beforehand, strided passes over a (T, N) block: 9-10 ms of a
// 2,000-unit fit's 200.
#include "common.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace recur_native {
namespace {

enum Activation : int64_t { kTanh = 0, kIdentity = 1, kRelu = 2, kSigmoid = 3 };

// Below this many non-zeros a step (~10 µs on one core) the per-step barrier costs more than the
// second core saves: measured on 2 cores, 500 units at 2 % (5,000 non-zeros) gained nothing.
constexpr int64_t kParallelNonZeros = 20000;

// The drive formed in the loop: d_t = bias + weights u_t, u_t at inputs + t * step_stride.
// inputs == nullptr: drive[t] already holds d_t.
template <typename T>
struct FusedDrive {
  const T* inputs = nullptr;
  int64_t step_stride = 0;
  int64_t K = 0;
  const T* weights_t = nullptr;  // (K, N): W_uᵀ, so that a step's rows are contiguous
  const T* bias = nullptr;       // (N)
};

// z[rows] = b[rows] + W_u[rows] u_t: unit-stride passes, one per input, that the compiler
// vectorises (a K-term dot product inside the row loop below cost 7 of 42 ms at 2,000 units).
template <typename T>
void drive_rows(T* __restrict z, const T* __restrict u, int64_t first, int64_t last, int64_t N,
                int64_t B, const FusedDrive<T>& drive) {
  if (B == 1) {
#pragma omp simd
    for (int64_t i = first; i < last; ++i) z[i] = drive.bias[i];
    for (int64_t k = 0; k < drive.K; ++k) {
      const T uk = u[k];
      const T* __restrict w = drive.weights_t + k * N;
#pragma omp simd
      for (int64_t i = first; i < last; ++i) z[i] += w[i] * uk;
    }
    return;
  }
  for (int64_t i = first; i < last; ++i) {
    for (int64_t b = 0; b < B; ++b) z[i * B + b] = drive.bias[i];
  }
  for (int64_t k = 0; k < drive.K; ++k) {
    const T* __restrict uk = u + k * B;
    for (int64_t i = first; i < last; ++i) {
      const T w = drive.weights_t[k * N + i];
#pragma omp simd
      for (int64_t b = 0; b < B; ++b) z[i * B + b] += w * uk[b];
    }
  }
}

// Rows [first, last) of one step: z[rows] += W[rows] x_prev, then f and the leak on those rows.
template <typename T, typename I>
void step_rows(T* __restrict z, const T* __restrict x_prev, int64_t first, int64_t last,
               int64_t B, const I* indptr, const I* indices, const T* data, T leak,
               int64_t activation) {
  for (int64_t i = first; i < last; ++i) {  // row i of W times x_{t-1} (N, B)
    if (B == 1) {  // one sequence: a dot product per row, two chains of adds in flight
      T even = 0, odd = 0;
      I k = indptr[i];
      for (; k + 1 < indptr[i + 1]; k += 2) {
        even += data[k] * x_prev[indices[k]];
        odd += data[k + 1] * x_prev[indices[k + 1]];
      }
      if (k < indptr[i + 1]) even += data[k] * x_prev[indices[k]];
      z[i] += even + odd;
      continue;
    }
    T* __restrict zi = z + i * B;
    for (I k = indptr[i]; k < indptr[i + 1]; ++k) {
      const T w = data[k];
      const T* __restrict xj = x_prev + static_cast<int64_t>(indices[k]) * B;
#pragma omp simd
      for (int64_t b = 0; b < B; ++b) zi[b] += w * xj[b];
    }
  }
  T* __restrict zs = z + first * B;
  const T* __restrict xs = x_prev + first * B;
  const int64_t width = (last - first) * B;
  if (activation == kTanh) {
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) zs[j] = tanh_(zs[j]);
  } else if (activation == kRelu) {
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) zs[j] = zs[j] > T(0) ? zs[j] : T(0);
  } else if (activation == kSigmoid) {
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) zs[j] = sigmoid(zs[j]);
  }
  if (leak != T(1)) {
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) zs[j] = xs[j] + leak * (zs[j] - xs[j]);
  }
}

// The time loop. With enough non-zeros a step, the rows are split between torch's threads in
// shares of equal non-zeros, each thread runs its rows of every step, and one barrier a step
// makes x_t whole before step t + 1 reads it. A thread owns its rows' f and leak too, so that
// is the only synchronisation. The result does not depend on the number of threads.
template <typename T, typename I>
void run(T* drive, int64_t step_stride, int64_t steps, int64_t N, int64_t B, const I* indptr,
         const I* indices, const T* data, const T* x0, T leak, int64_t activation,
         const FusedDrive<T>& fused) {
  const int64_t non_zeros = static_cast<int64_t>(indptr[N]) * B;
  const int threads =
      non_zeros >= kParallelNonZeros ? std::max(1, std::min(at::get_num_threads(), 64)) : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int team = 1, me = 0;
#ifdef _OPENMP
    team = omp_get_num_threads();
    me = omp_get_thread_num();
#endif
    // this thread's rows: the first row past each share of the non-zeros
    const auto boundary = [&](int k) {
      const int64_t target = static_cast<int64_t>(indptr[N]) * k / team;
      return static_cast<int64_t>(std::lower_bound(indptr, indptr + N, target) - indptr);
    };
    const int64_t first = me == 0 ? 0 : boundary(me);
    const int64_t last = me == team - 1 ? N : boundary(me + 1);
    const T* x_prev = x0;
    for (int64_t t = 0; t < steps; ++t) {
      T* z = drive + t * step_stride;
      if (fused.inputs) {
        drive_rows(z, fused.inputs + t * fused.step_stride, first, last, N, B, fused);
      }
      step_rows(z, x_prev, first, last, B, indptr, indices, data, leak, activation);
      if (team > 1) {
#pragma omp barrier
      }
      x_prev = z;
    }
  }
}

}  // namespace

Tensor reservoir_run(const Tensor& drive, const Tensor& indptr, const Tensor& indices,
                     const Tensor& data, const Tensor& x0, double leak, int64_t activation,
                     const std::optional<Tensor>& inputs,
                     const std::optional<Tensor>& input_weights,
                     const std::optional<Tensor>& bias) {
  TORCH_CHECK(drive.dim() == 2 || drive.dim() == 3, "reservoir_run: drive (T, N[, B]), got ",
              drive.sizes());
  TORCH_CHECK(activation >= kTanh && activation <= kSigmoid,
              "reservoir_run: activation 0-3 (tanh, identity, relu, sigmoid) expected, got ",
              activation);
  const int64_t steps = drive.size(0), N = drive.size(1), B = drive.dim() == 3 ? drive.size(2) : 1;
  const bool rows_contiguous = N == 1 || drive.stride(1) == B;  // size-1 dims' strides are free
  const bool columns_contiguous = drive.dim() == 2 || B == 1 || drive.stride(2) == 1;
  TORCH_CHECK(rows_contiguous && columns_contiguous,
              "reservoir_run: every drive[t] must be contiguous, strides ", drive.strides());
  TORCH_CHECK(indptr.scalar_type() == indices.scalar_type() &&
                  (indptr.scalar_type() == at::kInt || indptr.scalar_type() == at::kLong) &&
                  indptr.numel() == N + 1 && indptr.is_contiguous() && indices.is_contiguous(),
              "reservoir_run: contiguous indptr (", N + 1, ") and indices, both int32 or int64, "
              "expected, got ", indptr.scalar_type(), " ", indptr.sizes(), " and ",
              indices.scalar_type(), " ", indices.sizes());
  TORCH_CHECK(data.scalar_type() == drive.scalar_type() && x0.scalar_type() == drive.scalar_type(),
              "reservoir_run: data and x0 of drive's dtype ", drive.scalar_type(),
              " expected, got ", data.scalar_type(), " and ", x0.scalar_type());
  TORCH_CHECK(x0.numel() == N * B && data.numel() == indices.numel(),
              "reservoir_run: x0 of ", N * B, " values (N[, B]) and data of ", indices.numel(),
              " (nnz) expected, got ", x0.numel(), " and ", data.numel());
  const bool fused = inputs.has_value();
  TORCH_CHECK(fused == input_weights.has_value() && fused == bias.has_value(),
              "reservoir_run: inputs, input_weights and bias expected together or not at all, "
              "got inputs ", fused ? "given" : "absent", ", input_weights ",
              input_weights.has_value() ? "given" : "absent", ", bias ",
              bias.has_value() ? "given" : "absent");
  Tensor u, w_u, b;
  if (fused) {
    const int64_t K = input_weights->dim() == 2 ? input_weights->size(1) : -1;
    const bool u_shape = inputs->dim() == drive.dim() && inputs->size(0) == steps &&
                         inputs->size(1) == K && (B == 1 || inputs->size(2) == B);
    TORCH_CHECK(K >= 0 && input_weights->size(0) == N && u_shape && bias->numel() == N,
                "reservoir_run: inputs (", steps, ", K", B > 1 ? ", B" : "",
                "), input_weights (", N, ", K) and bias (", N, ") expected, got ",
                inputs->sizes(), ", ", input_weights->sizes(), " and ", bias->sizes());
    TORCH_CHECK(inputs->scalar_type() == drive.scalar_type() &&
                    input_weights->scalar_type() == drive.scalar_type() &&
                    bias->scalar_type() == drive.scalar_type(),
                "reservoir_run: inputs, input_weights and bias of drive's dtype ",
                drive.scalar_type(), " expected, got ", inputs->scalar_type(), ", ",
                input_weights->scalar_type(), " and ", bias->scalar_type());
    u = inputs->contiguous();
    w_u = input_weights->t().contiguous();
    b = bias->contiguous();
  }
  const Tensor w = data.contiguous(), start = x0.contiguous();
  AT_DISPATCH_FLOATING_TYPES(drive.scalar_type(), "reservoir_run", [&] {
    FusedDrive<scalar_t> fused_drive;
    if (fused) {
      const int64_t step_stride = u.numel() / std::max<int64_t>(steps, 1);
      fused_drive = {u.data_ptr<scalar_t>(), step_stride, w_u.size(0), w_u.data_ptr<scalar_t>(),
                     b.data_ptr<scalar_t>()};
    }
    const auto go = [&](auto* ptr, auto* idx) {
      run<scalar_t>(drive.data_ptr<scalar_t>(), drive.stride(0), steps, N, B, ptr, idx,
                    w.data_ptr<scalar_t>(), start.data_ptr<scalar_t>(),
                    static_cast<scalar_t>(leak), activation, fused_drive);
    };
    if (indptr.scalar_type() == at::kInt) {
      go(indptr.data_ptr<int32_t>(), indices.data_ptr<int32_t>());
    } else {
      go(indptr.data_ptr<int64_t>(), indices.data_ptr<int64_t>());
    }
  });
  return drive;
}

}  // namespace recur_native

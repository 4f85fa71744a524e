// The Echo State Network's reservoir update (recur/reservoir/kernel.py), the whole time loop in
// C++: per step one CSR product, the activation and the leak, with no Python in between.
//
//   z_t = W x_{t-1} + d_t,   x_t = (1 - a) x_{t-1} + a f(z_t)
//
// reservoir_run(drive (T, N[, B]), indptr (N + 1), indices, data (nnz), x0 (N[, B]), leak a,
// activation) overwrites drive[t] with x_t and returns it. drive[t] must be contiguous, the steps
// need not be adjacent (the states are columns of a wider feature matrix); indptr and indices are
// both int32 (scipy's choice below 2^31 non-zeros: less to read a step) or both int64, data and
// x0 of drive's dtype. Activations: 0 tanh, 1 identity, 2 relu, 3 sigmoid, as
// common.h computes them (tanh z = 2σ(2z) − 1: a few ulp from the libm value, vectorised).
#include "common.h"

namespace recur_native {
namespace {

enum Activation : int64_t { kTanh = 0, kIdentity = 1, kRelu = 2, kSigmoid = 3 };

template <typename T, typename I>
void run(T* drive, int64_t step_stride, int64_t steps, int64_t N, int64_t B, const I* indptr,
         const I* indices, const T* data, const T* x0, T leak, int64_t activation) {
  const T* x_prev = x0;
  const int64_t width = N * B;
  for (int64_t t = 0; t < steps; ++t) {
    T* __restrict z = drive + t * step_stride;
    for (int64_t i = 0; i < N; ++i) {  // z += W x_{t-1}, row i of W times x_{t-1} (N, B)
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
    if (activation == kTanh) {
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) z[j] = tanh_(z[j]);
    } else if (activation == kRelu) {
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) z[j] = z[j] > T(0) ? z[j] : T(0);
    } else if (activation == kSigmoid) {
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) z[j] = sigmoid(z[j]);
    }
    if (leak != T(1)) {
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) z[j] = x_prev[j] + leak * (z[j] - x_prev[j]);
    }
    x_prev = z;
  }
}

}  // namespace

Tensor reservoir_run(const Tensor& drive, const Tensor& indptr, const Tensor& indices,
                     const Tensor& data, const Tensor& x0, double leak, int64_t activation) {
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
  const Tensor w = data.contiguous(), start = x0.contiguous();
  AT_DISPATCH_FLOATING_TYPES(drive.scalar_type(), "reservoir_run", [&] {
    const auto go = [&](auto* ptr, auto* idx) {
      run<scalar_t>(drive.data_ptr<scalar_t>(), drive.stride(0), steps, N, B, ptr, idx,
                    w.data_ptr<scalar_t>(), start.data_ptr<scalar_t>(),
                    static_cast<scalar_t>(leak), activation);
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

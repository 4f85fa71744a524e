// zoneout_noise(seed, steps, batch, width) -> (steps, batch, width) int16: the noise the kernels
// compute inline (ZoneoutNoise), materialised row by row by the same code, so that the tests can
// hold it bit for bit to recur.engine.regularisation.zoneout_noise, which the other engines use.
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "zoneout_noise.h"

namespace recur_native {

at::Tensor zoneout_noise(const at::Tensor& seed, int64_t steps, int64_t batch, int64_t width) {
  const ZoneoutNoise noise(seed, batch, width);
  at::Tensor out = at::empty({steps, batch, width}, seed.options().dtype(at::kShort));
  std::vector<int16_t> row(noise.row_size());
  int16_t* o = out.data_ptr<int16_t>();
  for (int64_t r = 0; r < steps * batch; ++r) {
    noise.row(r / batch, r % batch, row.data());
    std::copy(row.begin(), row.begin() + width, o + r * width);
  }
  return out;
}

}  // namespace recur_native

TORCH_LIBRARY_FRAGMENT(recur_native, m) {
  m.def("zoneout_noise(Tensor seed, int steps, int batch, int width) -> Tensor",
        &recur_native::zoneout_noise);
}

// Zoneout's training noise: a counter-based generator the kernels run inline (common.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <bit>
#include <cstdint>
#include <cstring>

namespace recur_native {

// Zoneout's training noise (recur.engine.regularisation.zoneout_noise, bit for bit): (T, B, S)
// int16, S = ΣS_k the state tensors side by side. Row (t, b) is ⌈S/4⌉ 64-bit words; word w, at
// counter i = (t B + b) ⌈S/4⌉ + w, is splitmix64's output number i + 1 from state `seed`,
// splitmix64(seed + (i + 1) γ), and its four 16-bit lanes, low bits first, are the noise of units
// 4w .. 4w + 3. Counter-based, so the kernels compute each row where they use it, forward and
// again backward: one seed per call instead of T x B x S values drawn by torch's (serial)
// generator and streamed through memory twice.
inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct ZoneoutNoise {
  static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // splitmix64's increment
  uint64_t seed = 0;
  int64_t batch = 0, words = 0;

  ZoneoutNoise(const at::Tensor& seed_t, int64_t batch_size, int64_t width)
      : batch(batch_size), words((width + 3) / 4) {
    TORCH_CHECK(seed_t.scalar_type() == at::kLong && seed_t.numel() == 1,
                "recur native: zoneout_seed must be one int64, got ", seed_t.scalar_type(),
                " of ", seed_t.numel(), " elements");
    seed = static_cast<uint64_t>(seed_t.item<int64_t>());
  }

  int64_t row_size() const { return 4 * words; }  // int16 values a row buffer holds

  // Row (t, b) into out[0, row_size()). A word's lanes, low bits first, are its bytes in memory
  // order on a little-endian CPU: one 8-byte copy, which vectorises (four shifted 2-byte stores
  // take twice as long).
  void row(int64_t t, int64_t b, int16_t* __restrict out) const {
    static_assert(std::endian::native == std::endian::little, "lanes are stored little-endian");
    const uint64_t first = static_cast<uint64_t>((t * batch + b) * words) + 1;
#pragma omp simd
    for (int64_t w = 0; w < words; ++w) {
      const uint64_t z = splitmix64(seed + (first + static_cast<uint64_t>(w)) * kGamma);
      std::memcpy(out + 4 * w, &z, sizeof z);
    }
  }
};

}  // namespace recur_native

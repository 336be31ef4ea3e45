#include "trainer/augment.h"

#include <cmath>

namespace vernier {
namespace {

namespace F = torch::nn::functional;

// Uniform in [-1, 1), one per image.
torch::Tensor Symmetric(int64_t n, const torch::TensorOptions& options) {
  return torch::rand({n}, options) * 2 - 1;
}

// Rotation, zoom and shift as one bilinear resampling. `apply` (float [N],
// 0 or 1) turns an image's transform off by making it the identity.
torch::Tensor Affine(const torch::Tensor& images, const AugmentOptions& options,
                     const torch::Tensor& apply) {
  const int64_t n = images.size(0), rows = images.size(2), cols = images.size(3);
  const torch::TensorOptions real = images.options();
  const double radians = options.rotation * M_PI / 180.0;
  const torch::Tensor angle = Symmetric(n, real) * radians * apply;
  const torch::Tensor zoom = 1 + Symmetric(n, real) * options.scale * apply;
  // Integer pixel shifts; in affine_grid's [-1, 1] coordinates a pixel is 2/side.
  auto shift = [&](int64_t side) {
    if (options.crop == 0) return torch::zeros({n}, real);
    const torch::Tensor pixels =
        torch::randint(-options.crop, options.crop + 1, {n}, real).mul_(apply);
    return pixels * (2.0 / static_cast<double>(side));
  };
  const torch::Tensor cos = torch::cos(angle) / zoom, sin = torch::sin(angle) / zoom;
  // theta maps output coordinates to the input coordinates sampled there.
  const torch::Tensor theta = torch::stack(
      {torch::stack({cos, -sin, shift(cols)}, 1), torch::stack({sin, cos, shift(rows)}, 1)}, 1);
  const torch::Tensor grid =
      F::affine_grid(theta, {n, images.size(1), rows, cols}, /*align_corners=*/false);
  return F::grid_sample(images, grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kBilinear)
                            .padding_mode(torch::kZeros)
                            .align_corners(false));
}

// Zeroes a cutout x cutout square (clipped at the borders) per applied image.
torch::Tensor Cutout(const torch::Tensor& images, int64_t size, const torch::Tensor& apply) {
  const int64_t n = images.size(0), rows = images.size(2), cols = images.size(3);
  const torch::TensorOptions index = images.options().dtype(torch::kInt64);
  const torch::Tensor top = torch::randint(0, rows, {n, 1, 1}, index) - size / 2;
  const torch::Tensor left = torch::randint(0, cols, {n, 1, 1}, index) - size / 2;
  const torch::Tensor y = torch::arange(rows, index).view({1, rows, 1});
  const torch::Tensor x = torch::arange(cols, index).view({1, 1, cols});
  const torch::Tensor inside = (y >= top) & (y < top + size) & (x >= left) & (x < left + size) &
                               apply.to(torch::kBool).view({n, 1, 1});
  return images.masked_fill(inside.unsqueeze(1), 0);
}

}  // namespace

torch::Tensor AugmentImages(const torch::Tensor& images, const AugmentOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t n = images.size(0);
  const torch::TensorOptions real = images.options();
  torch::Tensor out = images;
  if (options.flip > 0) {
    const torch::Tensor flip = (torch::rand({n}, real) < options.flip).view({n, 1, 1, 1});
    out = torch::where(flip, out.flip({3}), out);
  }
  if (options.prob <= 0) return out;
  const bool affine = options.rotation > 0 || options.scale > 0 || options.crop > 0;
  if (!affine && options.cutout == 0) return out;
  const torch::Tensor apply = (torch::rand({n}, real) < options.prob).to(real.dtype());
  if (affine) {
    // Images without a transform keep their exact pixels (bilinear
    // resampling at the identity is only equal up to rounding).
    out = torch::where(apply.to(torch::kBool).view({n, 1, 1, 1}), Affine(out, options, apply), out);
  }
  if (options.cutout > 0) out = Cutout(out, options.cutout, apply);
  return out;
}

}  // namespace vernier

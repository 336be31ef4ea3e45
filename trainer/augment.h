// Random image augmentation for the built-in trainer, applied to a whole batch
// on the batch's device (no host round trip): horizontal flip, rotation, zoom
// and shift ("crop" of a zero-padded image) as one affine resampling, and
// cutout. Each image draws its own transform.
//
// Randomness comes from libtorch's default generator of the batch's device,
// which RunTrial seeds from the trial's seed, so a run is reproducible on one
// device.
//
// Thread-safety: AugmentImages touches only its arguments and the default
// generator; call it from one thread at a time.
#ifndef VERNIER_TRAINER_AUGMENT_H_
#define VERNIER_TRAINER_AUGMENT_H_

#include <torch/torch.h>

#include <cstdint>

namespace vernier {

struct AugmentOptions {
  double flip = 0;      // Probability of a horizontal flip (independent of prob).
  double rotation = 0;  // Degrees: angle uniform in [-rotation, rotation].
  double scale = 0;     // Zoom factor uniform in [1 - scale, 1 + scale].
  int64_t crop = 0;     // Shift by an integer in [-crop, crop] pixels per axis.
  int64_t cutout = 0;   // Side of a zeroed square at a uniform centre; 0 = off.
  double prob = 1;      // Probability that an image gets rotation/scale/crop/cutout.

  // Whether any transform is on (a zero strength or prob means none).
  bool enabled() const {
    return flip > 0 || (prob > 0 && (rotation > 0 || scale > 0 || crop > 0 || cutout > 0));
  }
};

// Returns an augmented copy of `images` [N, C, H, W] (float). Areas moved in
// from outside the image and cut-out squares are 0 (the mean pixel after
// standardisation). Images that draw no transform are returned exactly.
// REQUIRES: images is a 4-D floating tensor.
torch::Tensor AugmentImages(const torch::Tensor& images, const AugmentOptions& options);

}  // namespace vernier

#endif  // VERNIER_TRAINER_AUGMENT_H_

// The input shapes the trainer's model tests build their models for: images
// (Fashion-MNIST's 1x28x28 by default), feature vectors and token sequences.
#ifndef VERNIER_TESTS_TRAINER_MODEL_SHAPES_H_
#define VERNIER_TESTS_TRAINER_MODEL_SHAPES_H_

#include <cstdint>

#include "trainer/models.h"

namespace vernier::testing {

inline ModelShape Images(int64_t channels = 1, int64_t side = 28, int64_t outputs = 10) {
  return {InputKind::kImageBytes, {channels, side, side}, 0, outputs};
}

inline ModelShape Features(int64_t features, int64_t outputs) {
  return {InputKind::kFloat, {features}, 0, outputs};
}

inline ModelShape Tokens(int64_t length, int64_t vocab, int64_t outputs) {
  return {InputKind::kTokens, {length}, vocab, outputs};
}

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_TRAINER_MODEL_SHAPES_H_

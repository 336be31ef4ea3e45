// The built-in trainer's models (libtorch modules). Today one: a small CNN for
// 28x28 single-channel images.
//
// Defined in this header rather than a .cc because every libtorch translation
// unit costs ~20-50 s to compile; the module is small and only the training
// code and its test include it.
//
// Thread-safety: as any torch::nn::Module, not thread-safe; one thread trains
// or evaluates a module at a time.
#ifndef VERNIER_TRAINER_MODEL_H_
#define VERNIER_TRAINER_MODEL_H_

#include <torch/torch.h>

#include <cstdint>

namespace vernier {

// conv 3x3 (1 -> 16) -> ReLU -> maxpool 2 -> conv 3x3 (16 -> 32) -> ReLU ->
// maxpool 2 -> dropout -> dense (32*7*7 -> 128) -> ReLU -> dropout ->
// dense (128 -> 10). Input [N, 1, 28, 28], output logits [N, 10].
// Parameter names: conv1.*, conv2.*, fc1.*, fc2.* (weight and bias each).
//
// Half the channels of the classic 32/64 Fashion-MNIST CNN: on one CPU thread
// (Debian's libtorch with reference BLAS) it trains about twice as fast and
// still passes 0.85 test accuracy after 3 epochs on 12000 images.
class CnnImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kImageSide = 28;
  static constexpr int64_t kNumClasses = 10;

  // REQUIRES: 0 <= dropout < 1.
  explicit CnnImpl(double dropout)
      : conv1_(register_module(
            "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, kConv1, 3).padding(1)))),
        conv2_(register_module(
            "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(kConv1, kConv2, 3).padding(1)))),
        dropout_(register_module("dropout", torch::nn::Dropout(dropout))),
        fc1_(register_module("fc1", torch::nn::Linear(kFlat, kHidden))),
        fc2_(register_module("fc2", torch::nn::Linear(kHidden, kNumClasses))) {}

  // Returns logits [N, 10] for images [N, 1, 28, 28] on the module's device.
  torch::Tensor forward(torch::Tensor images) {
    namespace F = torch::nn::functional;
    torch::Tensor x =
        F::max_pool2d(torch::relu(conv1_->forward(images)), F::MaxPool2dFuncOptions(2));
    x = F::max_pool2d(torch::relu(conv2_->forward(x)), F::MaxPool2dFuncOptions(2));
    x = dropout_->forward(x.flatten(1));
    x = dropout_->forward(torch::relu(fc1_->forward(x)));
    return fc2_->forward(x);
  }

 private:
  static constexpr int64_t kConv1 = 16;
  static constexpr int64_t kConv2 = 32;
  static constexpr int64_t kFlat = kConv2 * (kImageSide / 4) * (kImageSide / 4);
  static constexpr int64_t kHidden = 128;

  torch::nn::Conv2d conv1_;
  torch::nn::Conv2d conv2_;
  torch::nn::Dropout dropout_;
  torch::nn::Linear fc1_;
  torch::nn::Linear fc2_;
};
TORCH_MODULE(Cnn);

}  // namespace vernier

#endif  // VERNIER_TRAINER_MODEL_H_

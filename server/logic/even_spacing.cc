#include "server/logic/even_spacing.h"

namespace vernier {

bool EvenSpacing::Picks(int64_t position) {
  if (keep_ <= 0 || count_ <= keep_) return true;
  // i * count / keep grows by more than 1 per i (count > keep): no position
  // is picked twice.
  while (next_ < keep_ && next_ * count_ / keep_ < position) ++next_;
  if (next_ >= keep_ || next_ * count_ / keep_ != position) return false;
  ++next_;
  return true;
}

}  // namespace vernier

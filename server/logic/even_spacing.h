// Evenly spaced picks from a sequence whose length is known before its items
// go by: the sample a large listing sends instead of every item (the
// importance plot's trials), the same picks wherever they are made.
//
// Thread-safety: an EvenSpacing is used by one thread at a time.
#ifndef VERNIER_SERVER_LOGIC_EVEN_SPACING_H_
#define VERNIER_SERVER_LOGIC_EVEN_SPACING_H_

#include <cstdint>

namespace vernier {

// The largest sample one trial listing takes (ListTrialsRequest.sample_size).
inline constexpr int32_t kMaxTrialSampleSize = 10000;

// Picks at most `keep` of `count` items streaming by, at the positions
// i * count / keep (i = 0 .. keep - 1): evenly spaced, in order. All of them
// when `keep` is 0, `count` is at most `keep`, or `count` is unknown (0).
class EvenSpacing {
 public:
  EvenSpacing(int64_t count, int64_t keep) : count_(count), keep_(keep) {}
  // Whether the item at `position` is picked; asked in increasing order.
  bool Picks(int64_t position);

 private:
  const int64_t count_;
  const int64_t keep_;
  int64_t next_ = 0;  // The i of the next position to pick.
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_EVEN_SPACING_H_

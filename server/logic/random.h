// Seeded randomness of the pure logic, in one place: how a generator is made
// from a study's seed and the purpose of its draws, and the draws themselves.
//
// Why: a study's suggestions and PBT's decisions are a function of (seed,
// history) that users rely on (a rerun, a restarted coordinator, a benchmark
// table), so the sequence of every draw must stay the same on every build and
// after every library upgrade. The C++ standard fixes the output of
// std::seed_seq and std::mt19937_64, but not of the std:: distributions
// (libstdc++ and libc++ differ), and Abseil does not promise to keep the
// sequences of absl::Uniform or absl::Bernoulli across releases. So the
// engine is std::mt19937_64 and every draw below is our own code. The draws
// that replaced Abseil's reproduce, bit for bit, the algorithms of the
// Abseil that Debian 12 ships (20220623), so that moving here changed no
// suggestion (tests/golden/ pins them), and an upgrade cannot change one.
//
// Thread-safety: the functions are thread-safe; a generator is not, so each
// suggestion or decision makes its own.
#ifndef VERNIER_SERVER_LOGIC_RANDOM_H_
#define VERNIER_SERVER_LOGIC_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <random>

#include "absl/container/inlined_vector.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/types/span.h"

namespace vernier {

// ---- Generators ---------------------------------------------------------------

// Purpose tags: one word at the end of a stream's seed that keeps the stream
// apart from every other stream of the same study seed. They are the values
// each stream had before this file existed: changing one changes every
// suggestion of that stream for every seed. RandomSampler's stream has none.
namespace stream_tag {
inline constexpr uint32_t kTpe = 0x7e5;              // TpeSampler, per trial.
inline constexpr uint32_t kNsga2 = 0x6e736761;       // Nsga2Sampler, per trial ("nsga").
inline constexpr uint32_t kSobolScramble = 0x50b01;  // SobolSampler's digital shift.
inline constexpr uint32_t kGp = 0x6a5;               // GpSampler's per-trial stream.
inline constexpr uint32_t kCmaesAsk = 0xc3a0;        // CmaesSampler: a trial's point.
inline constexpr uint32_t kCmaesRestart = 0xc3a1;    // CmaesSampler: a restart's mean.
inline constexpr uint32_t kCmaesFallback = 0xc3a2;   // CmaesSampler: uniform fallbacks.
inline constexpr uint32_t kPbtDonor = 1;             // PbtPolicy: which donor.
inline constexpr uint32_t kPbtPerturb = 2;           // PbtPolicy: how to perturb.
inline constexpr uint32_t kEnqueue = 0x656e71;       // Coordinator::EnqueueTrial ("enq").
}  // namespace stream_tag

// The seed of one stream of draws, as the 32-bit words std::seed_seq
// receives: the study's seed (two words, low then high), then the numbers
// that say which draws these are (trial number, step, restart...: two words
// each), then usually a tag (one word). Two streams with different words are
// unrelated; the same words give the same stream on every platform.
//
//   std::mt19937_64 gen =
//       MakeGenerator(StreamSeed(seed).Number(trial_number).Word(stream_tag::kTpe));
class StreamSeed {
 public:
  explicit StreamSeed(uint64_t seed) { Number(seed); }

  // Appends `number` as two words, its low 32 bits first. A negative number
  // counts as its two's-complement bits.
  StreamSeed& Number(uint64_t number) {
    words_.push_back(static_cast<uint32_t>(number));
    words_.push_back(static_cast<uint32_t>(number >> 32));
    return *this;
  }
  StreamSeed& Number(int64_t number) { return Number(static_cast<uint64_t>(number)); }

  // Appends one word: a purpose tag, or (only where a stream always did so,
  // e.g. the enqueue stream's trial number) a number cut to its low 32 bits.
  StreamSeed& Word(uint32_t word) {
    words_.push_back(word);
    return *this;
  }

  absl::Span<const uint32_t> words() const { return words_; }

 private:
  absl::InlinedVector<uint32_t, 8> words_;
};

// A std::mt19937_64 seeded by std::seed_seq over seed.words() in order.
std::mt19937_64 MakeGenerator(const StreamSeed& seed);

// The same for the 32-bit std::mt19937 (SobolSampler's scramble, which has
// always drawn 32-bit words).
std::mt19937 MakeGenerator32(const StreamSeed& seed);

// ---- Draws ------------------------------------------------------------------------
//
// Each draw reads whole 64-bit words from `gen` (absl::BitGenRef's call: for a
// std::mt19937_64 the engine's next output, unchanged), so a draw consumes a
// documented number of words and the next draw's words do not depend on how
// the previous one was computed.

// Uniform in [0, 1): the top 53 bits of one word, times 2^-53. (TPE, GP and
// CMA-ES always drew this way.)
double Uniform01(absl::BitGenRef gen);

// Standard normal by Box-Muller from two Uniform01 draws u1, u2:
// sqrt(-2 ln(1 - u1)) * cos(2 pi u2). One value per two words; the second
// value of the pair is not kept.
double StandardNormal(absl::BitGenRef gen);

// The draws below are Abseil 20220623's, bit for bit; each names the call it
// replaced.

// Uniform in [lo, hi): absl::Uniform(gen, lo, hi) for doubles. A word w
// becomes a double in [0, 1) with the leading zeros of w as the exponent
// (every bit of w used, zero only for w == 0), then lo + u * (hi - lo); a
// result that rounds to hi is drawn again. Returns lo, drawing nothing, when
// !(lo <= hi) or hi - lo is not finite.
double UniformReal(absl::BitGenRef gen, double lo, double hi);

// Uniform in [lo, hi]: absl::Uniform(absl::IntervalClosed, gen, lo, hi) for
// doubles: UniformReal over [lo, nextafter(hi, +max)).
double UniformRealClosed(absl::BitGenRef gen, double lo, double hi);

// Uniform integer in [lo, hi]: absl::Uniform<int64_t>(absl::IntervalClosed,
// gen, lo, hi). Lemire's multiply-and-reject: the high word of w * (hi - lo + 1),
// w drawn again in the rare case that makes it biased; for a range of a
// power of two, the low bits of one word. Returns lo, drawing nothing, when
// lo > hi.
int64_t UniformInt(absl::BitGenRef gen, int64_t lo, int64_t hi);

// Uniform index in [0, n): absl::Uniform<size_t>(gen, 0, n). As UniformInt
// over [0, n - 1]. REQUIRES: n >= 1 (n == 0 returns 0 after one word, as
// Abseil does).
size_t UniformIndex(absl::BitGenRef gen, size_t n);

// True with probability p: absl::Bernoulli(gen, p). Compares the low 32 bits
// of a word with p * 2^32, and on a tie (probability 2^-32) draws again with
// the remainder of p, so the probability is exact. REQUIRES: 0 <= p <= 1.
bool Bernoulli(absl::BitGenRef gen, double p);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_RANDOM_H_

#include "server/logic/random.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "absl/base/config.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/random/distributions.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;

constexpr uint64_t kAllOnes = std::numeric_limits<uint64_t>::max();

// A generator that returns the words it was given, for the rare paths
// (rejections, ties) that seeded draws almost never reach.
class ScriptedWords {
 public:
  using result_type = uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return kAllOnes; }

  explicit ScriptedWords(std::vector<uint64_t> words) : words_(std::move(words)) {}

  result_type operator()() {
    if (next_ == words_.size()) {
      ADD_FAILURE() << "the draw asked for more than " << words_.size() << " words";
      return 0;
    }
    return words_[next_++];
  }
  size_t used() const { return next_; }

 private:
  std::vector<uint64_t> words_;
  size_t next_ = 0;
};

std::mt19937_64 TestGenerator() {
  return MakeGenerator(StreamSeed(42).Number(int64_t{7}).Word(stream_tag::kTpe));
}

// ---- Generators ---------------------------------------------------------------

TEST(StreamSeedTest, WordsAreTheSeedThenNumbersThenTagsLowWordFirst) {
  const StreamSeed seed =
      StreamSeed(0x1122334455667788u).Number(int64_t{-2}).Number(uint64_t{5}).Word(0xabc);
  EXPECT_THAT(seed.words(),
              ElementsAre(0x55667788u, 0x11223344u, 0xfffffffeu, 0xffffffffu, 5u, 0u, 0xabcu));
}

TEST(MakeGeneratorTest, IsMt19937_64SeededBySeedSeqOverTheWords) {
  std::seed_seq sequence{42u, 0u, 7u, 0u, stream_tag::kTpe};
  EXPECT_EQ(TestGenerator(), std::mt19937_64(sequence));
  EXPECT_NE(TestGenerator(), MakeGenerator(StreamSeed(42).Number(int64_t{7})));
}

// Coordinator::EnqueueTrial's stream has always taken the trial number as one
// word (its low 32 bits); Word() keeps that seed.
TEST(MakeGeneratorTest, EnqueueStreamTakesTheTrialNumberAsOneWord) {
  const uint64_t seed = 0x0123456789abcdefu;
  const int64_t trial_number = 12;
  std::seed_seq sequence{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                         static_cast<uint32_t>(trial_number), 0x656e71u};
  EXPECT_EQ(
      MakeGenerator(
          StreamSeed(seed).Word(static_cast<uint32_t>(trial_number)).Word(stream_tag::kEnqueue)),
      std::mt19937_64(sequence));
}

TEST(MakeGeneratorTest, ThirtyTwoBitEngineTakesTheSameWords) {
  std::seed_seq sequence{7u, 0u, stream_tag::kSobolScramble};
  EXPECT_EQ(MakeGenerator32(StreamSeed(7).Word(stream_tag::kSobolScramble)),
            std::mt19937(sequence));
}

// The draws read the engine's words as they are: BitGenRef adds nothing to a
// 64-bit engine. (Were an Abseil upgrade to change that, every sequence
// would change: this test says where.)
TEST(DrawsTest, BitGenRefPassesEngineWordsThrough) {
  std::mt19937_64 engine = TestGenerator();
  std::mt19937_64 copy = engine;
  absl::BitGenRef ref(engine);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(ref(), copy());
}

// ---- Pinned sequences ------------------------------------------------------------
//
// Our draws, whatever Abseil does: the first values for one stream, %.17g.
// A change here changes suggestions for every seed (see tests/golden/).

TEST(PinnedSequenceTest, Uniform01AndStandardNormal) {
  std::mt19937_64 gen = TestGenerator();
  EXPECT_EQ(Uniform01(gen), 0.029755230613761396);
  EXPECT_EQ(Uniform01(gen), 0.90827402460500828);
  EXPECT_EQ(StandardNormal(gen), -0.21492450036495137);
  EXPECT_EQ(StandardNormal(gen), -1.3442183487080017);
}

TEST(PinnedSequenceTest, AbseilCompatibleDraws) {
  std::mt19937_64 gen = TestGenerator();
  EXPECT_EQ(UniformReal(gen, -1.0, 3.0), -0.88097907754495419);
  EXPECT_EQ(UniformRealClosed(gen, 1e-5, 1.0), 0.90827494186476243);
  EXPECT_EQ(UniformInt(gen, -5, 1000), 357);
  EXPECT_EQ(UniformInt(gen, 0, 7), 2);
  EXPECT_EQ(UniformIndex(gen, 3), 1u);
  std::vector<bool> coins;
  for (int i = 0; i < 8; ++i) coins.push_back(Bernoulli(gen, 0.3));
  EXPECT_THAT(coins, ElementsAre(false, true, false, true, false, false, false, true));
}

// ---- Edge cases --------------------------------------------------------------------

TEST(DrawsTest, EmptyRangesReturnLoAndDrawNothing) {
  std::mt19937_64 gen = TestGenerator();
  const std::mt19937_64 before = gen;
  EXPECT_EQ(UniformInt(gen, 5, 4), 5);
  EXPECT_EQ(UniformReal(gen, 2.0, 1.0), 2.0);
  EXPECT_EQ(UniformRealClosed(gen, 2.0, 1.0), 2.0);
  EXPECT_EQ(UniformReal(gen, 0.0, std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(gen, before);
}

TEST(DrawsTest, OnePointRanges) {
  std::mt19937_64 gen = TestGenerator();
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(UniformInt(gen, 3, 3), 3);
    ASSERT_EQ(UniformRealClosed(gen, 2.5, 2.5), 2.5);
    ASSERT_EQ(UniformIndex(gen, 1), 0u);
  }
}

TEST(DrawsTest, BernoulliAtZeroAndOne) {
  std::mt19937_64 gen = TestGenerator();
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(Bernoulli(gen, 0.0));
    ASSERT_TRUE(Bernoulli(gen, 1.0));
  }
}

TEST(DrawsTest, WordsBecomeUnitDoubles) {
  ScriptedWords words({0, uint64_t{1} << 63, kAllOnes, 1});
  EXPECT_EQ(UniformReal(words, 0.0, 1.0), 0.0);
  EXPECT_EQ(UniformReal(words, 0.0, 1.0), 0.5);
  EXPECT_EQ(UniformReal(words, 0.0, 1.0), 1.0 - 0x1.0p-53);
  EXPECT_EQ(UniformReal(words, 0.0, 1.0), 0x1.0p-64);  // Every bit counts.
}

TEST(DrawsTest, ARealThatRoundsToHiIsDrawnAgain) {
  ScriptedWords words({kAllOnes, uint64_t{1} << 63});
  EXPECT_EQ(UniformReal(words, 1.0, 2.0), 1.5);
  EXPECT_EQ(words.used(), 2u);
}

TEST(DrawsTest, ABiasedIntegerIsDrawnAgain) {
  // Range 3: the word 0 falls in the 2^64 mod 3 = 1 surplus products.
  ScriptedWords words({0, kAllOnes});
  EXPECT_EQ(UniformInt(words, 10, 12), 12);
  EXPECT_EQ(words.used(), 2u);
}

TEST(DrawsTest, WholeInt64RangeTakesTheWordAsIs) {
  ScriptedWords words({0, kAllOnes});
  const int64_t min = std::numeric_limits<int64_t>::min();
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(UniformInt(words, min, max), min);
  EXPECT_EQ(UniformInt(words, min, max), max);
}

TEST(DrawsTest, ABernoulliTieDrawsAgainWithTheRemainder) {
  const auto cut = static_cast<uint64_t>(0.3 * 0x1.0p32);
  ScriptedWords low({cut, 0});
  EXPECT_TRUE(Bernoulli(low, 0.3));
  EXPECT_EQ(low.used(), 2u);
  ScriptedWords high({cut, 0xffffffff});
  EXPECT_FALSE(Bernoulli(high, 0.3));
  // Only the low 32 bits of a word count.
  ScriptedWords upper_bits({0xffffffff00000000u});
  EXPECT_TRUE(Bernoulli(upper_bits, 0.3));
}

// ---- Parity with Abseil 20220623 ---------------------------------------------------
//
// The draws above replaced absl::Uniform and absl::Bernoulli without changing
// a suggestion: each gives Abseil 20220623's value and leaves the engine where
// Abseil left it. Other Abseil releases may draw differently, which is why
// these draws are ours; the test then has nothing to compare with.

#if defined(ABSL_LTS_RELEASE_VERSION) && ABSL_LTS_RELEASE_VERSION == 20220623
constexpr bool kAbseil20220623 = true;
#else
constexpr bool kAbseil20220623 = false;
#endif

class AbseilParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kAbseil20220623) GTEST_SKIP() << "the draws copy Abseil 20220623; this is another one";
  }

  // A double spanning many scales, signs included.
  double AnyDouble() {
    const double magnitude = std::ldexp(std::uniform_real_distribution<double>(1, 2)(inputs_),
                                        std::uniform_int_distribution<int>(-40, 40)(inputs_));
    return inputs_() % 2 == 0 ? magnitude : -magnitude;
  }

  // Runs `ours` and `theirs` on copies of one engine, `draws` times, and
  // fails unless every value and the engines' states agree.
  template <typename Ours, typename Theirs>
  void ExpectSameDraws(Ours ours, Theirs theirs, int draws = 20000) {
    std::mt19937_64 mine(inputs_());
    std::mt19937_64 abseil = mine;
    for (int i = 0; i < draws; ++i) {
      const auto a = ours(mine);
      const auto b = theirs(abseil);
      ASSERT_EQ(a, b) << "draw " << i;
      ASSERT_EQ(mine, abseil) << "draw " << i << " used a different number of words";
    }
  }

  std::mt19937_64 inputs_{20220623};
};

TEST_F(AbseilParityTest, UniformReal) {
  for (int range = 0; range < 50; ++range) {
    double lo = AnyDouble(), hi = AnyDouble();
    if (range % 10 != 0 && lo > hi) std::swap(lo, hi);  // Some empty ranges too.
    ExpectSameDraws([&](std::mt19937_64& gen) { return UniformReal(gen, lo, hi); },
                    [&](std::mt19937_64& gen) { return absl::Uniform(gen, lo, hi); }, 1000);
  }
  ExpectSameDraws([](std::mt19937_64& gen) { return UniformReal(gen, 0.0, 1.0); },
                  [](std::mt19937_64& gen) { return absl::Uniform(gen, 0.0, 1.0); });
}

TEST_F(AbseilParityTest, UniformRealClosed) {
  for (int range = 0; range < 50; ++range) {
    double lo = AnyDouble(), hi = AnyDouble();
    if (range % 10 != 0 && lo > hi) std::swap(lo, hi);
    if (range % 7 == 0) hi = lo;
    ExpectSameDraws(
        [&](std::mt19937_64& gen) { return UniformRealClosed(gen, lo, hi); },
        [&](std::mt19937_64& gen) { return absl::Uniform(absl::IntervalClosed, gen, lo, hi); },
        1000);
  }
  // SampleFloat's log scale.
  const double lo = std::log(1e-5), hi = std::log(1.0);
  ExpectSameDraws(
      [&](std::mt19937_64& gen) { return UniformRealClosed(gen, lo, hi); },
      [&](std::mt19937_64& gen) { return absl::Uniform(absl::IntervalClosed, gen, lo, hi); });
}

TEST_F(AbseilParityTest, UniformInt) {
  for (int range = 0; range < 200; ++range) {
    // Ranges of every width, 1 to 2^64, powers of two among them.
    const int bits = static_cast<int>(inputs_() % 65);
    const uint64_t width = bits == 64 ? kAllOnes : (uint64_t{1} << bits) - (range % 3);
    const auto lo = static_cast<int64_t>(inputs_());
    const int64_t hi = static_cast<int64_t>(static_cast<uint64_t>(lo) + width);
    ExpectSameDraws([&](std::mt19937_64& gen) { return UniformInt(gen, lo, hi); },
                    [&](std::mt19937_64& gen) {
                      return absl::Uniform<int64_t>(absl::IntervalClosed, gen, lo, hi);
                    },
                    200);
  }
}

TEST_F(AbseilParityTest, UniformIndex) {
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{50}, size_t{1} << 40,
                   (size_t{1} << 63) + 1, std::numeric_limits<size_t>::max()}) {
    ExpectSameDraws([&](std::mt19937_64& gen) { return UniformIndex(gen, n); },
                    [&](std::mt19937_64& gen) { return absl::Uniform<size_t>(gen, 0, n); }, 2000);
  }
}

TEST_F(AbseilParityTest, Bernoulli) {
  std::vector<double> probabilities = {0.0, 1.0, 0.5, 0.25, 0.9, 1e-300, 1.0 - 1e-16};
  for (int i = 0; i < 50; ++i) {
    probabilities.push_back(std::uniform_real_distribution<double>(0, 1)(inputs_));
  }
  for (double p : probabilities) {
    ExpectSameDraws([&](std::mt19937_64& gen) { return Bernoulli(gen, p); },
                    [&](std::mt19937_64& gen) { return absl::Bernoulli(gen, p); }, 2000);
  }
}

TEST_F(AbseilParityTest, RarePathsUseTheSameWords) {
  const std::vector<std::vector<uint64_t>> scripts = {
      {kAllOnes, uint64_t{1} << 63},  // A real rounding to hi.
      {0, kAllOnes},                  // A biased integer.
      {static_cast<uint64_t>(0.3 * 0x1.0p32), 0},
      {static_cast<uint64_t>(0.3 * 0x1.0p32), 0xffffffff},
  };
  for (const std::vector<uint64_t>& script : scripts) {
    ScriptedWords mine(script), abseil(script);
    EXPECT_EQ(UniformReal(mine, 1.0, 2.0), absl::Uniform(abseil, 1.0, 2.0));
    EXPECT_EQ(mine.used(), abseil.used());
    ScriptedWords mine_int(script), abseil_int(script);
    EXPECT_EQ(UniformInt(mine_int, 10, 12),
              absl::Uniform<int64_t>(absl::IntervalClosed, abseil_int, 10, 12));
    EXPECT_EQ(mine_int.used(), abseil_int.used());
    ScriptedWords mine_coin(script), abseil_coin(script);
    EXPECT_EQ(Bernoulli(mine_coin, 0.3), absl::Bernoulli(abseil_coin, 0.3));
    EXPECT_EQ(mine_coin.used(), abseil_coin.used());
  }
}

}  // namespace
}  // namespace vernier

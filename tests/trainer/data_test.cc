// Tests of LoadData over every kind of data set, its cache and its errors, on
// files the tests write; plus, when they are installed or fetched, the real
// data sets, with timings printed (not asserted).
#include "trainer/data.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"
#include "trainer/dataset_cache.h"
#include "trainer/datasets.h"

namespace vernier {
namespace {

using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

DataOptions ImageOptions(const std::string& dir, const std::string& cache_dir) {
  DataOptions options;
  options.dataset = "fashion-mnist";
  options.data_dir = dir;
  options.cache_dir = cache_dir;
  return options;
}

// Returns images count x side x side with labels i % classes.
LabeledImages MakeImages(int count, int side, int classes, uint8_t fill) {
  LabeledImages images;
  images.count = count;
  images.rows = side;
  images.cols = side;
  images.pixels.assign(static_cast<size_t>(count * side * side), fill);
  for (int i = 0; i < count; ++i) images.labels.push_back(static_cast<uint8_t>(i % classes));
  return images;
}

TEST(LoadDataImagesTest, FashionMnistSplitsLikePlanSplit) {
  testing::TempDir dir;
  const LabeledImages train = testing::MakeTinyImages(60, 1);
  testing::WriteFashionMnistFiles(dir.path(), train, testing::MakeTinyImages(20, 2), true);
  DataOptions options = ImageOptions(dir.path(), "");
  options.train_subset = 30;
  absl::StatusOr<LoadedData> data = LoadData(options);
  ASSERT_OK(data);
  EXPECT_EQ(data->task, TaskKind::kClassification);
  EXPECT_EQ(data->input, InputKind::kImageBytes);
  EXPECT_THAT(data->example_shape, ElementsAre(1, 28, 28));
  EXPECT_EQ(data->num_classes, 10);
  EXPECT_EQ(data->class_names[9], "Ankle boot");
  EXPECT_EQ(data->train.count, 30);
  EXPECT_EQ(data->val.count, 10);  // The last 60 / 6 images.
  EXPECT_EQ(data->test.count, 20);
  EXPECT_EQ(data->train.image_bytes,
            std::vector<uint8_t>(train.pixels.begin(), train.pixels.begin() + 30 * 784));
  EXPECT_EQ(data->val.image_bytes,
            std::vector<uint8_t>(train.pixels.end() - 10 * 784, train.pixels.end()));
  EXPECT_EQ(data->val.labels, std::vector<int64_t>(train.labels.end() - 10, train.labels.end()));
  EXPECT_EQ(data->test.labels.size(), 20u);
}

TEST(LoadDataImagesTest, IdxTakesAnySizeAndCountsClasses) {
  testing::TempDir dir;
  testing::WriteFashionMnistFiles(dir.path(), MakeImages(12, 5, 3, 1), MakeImages(6, 5, 3, 2),
                                  false);
  DataOptions options = ImageOptions(dir.path(), "");
  options.dataset = "idx";
  options.val_fraction = 0.25;
  absl::StatusOr<LoadedData> data = LoadData(options);
  ASSERT_OK(data);
  EXPECT_THAT(data->example_shape, ElementsAre(1, 5, 5));
  EXPECT_THAT(data->class_names, ElementsAre("0", "1", "2"));
  EXPECT_EQ(data->train.count, 9);
  EXPECT_EQ(data->val.count, 3);
}

TEST(LoadDataImagesTest, CacheHitMissAndInvalidation) {
  testing::TempDir dir;
  testing::TempDir cache;
  testing::WriteFashionMnistFiles(dir.path(), MakeImages(12, 28, 10, 1), MakeImages(10, 28, 10, 2),
                                  true);
  const DataOptions options = ImageOptions(dir.path(), cache.path());
  absl::StatusOr<LoadedData> cold = LoadData(options);
  ASSERT_OK(cold);
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(cache.path())) {
    entries += entry.path().extension() == ".raw";
  }
  EXPECT_EQ(entries, 1);

  // A hit: replace the entry's test pixels with 77s under the same key, and
  // LoadData returns them (so it did not read the IDX files).
  std::vector<std::string> files;
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    files.push_back(dir.File(name));
  }
  absl::StatusOr<std::string> key = MakeCacheKey("idx-images", files);
  ASSERT_OK(key);
  std::optional<std::vector<std::vector<uint8_t>>> blobs =
      ReadCacheEntry(cache.path(), "idx-images", *key);
  ASSERT_TRUE(blobs.has_value());
  ASSERT_EQ(blobs->size(), 5u);
  (*blobs)[3].assign((*blobs)[3].size(), 77);
  std::vector<absl::Span<const uint8_t>> spans;
  for (const auto& blob : *blobs) spans.push_back(absl::MakeConstSpan(blob));
  ASSERT_OK(WriteCacheEntry(cache.path(), "idx-images", *key, spans));
  absl::StatusOr<LoadedData> warm = LoadData(options);
  ASSERT_OK(warm);
  EXPECT_EQ(warm->test.image_bytes, std::vector<uint8_t>(10 * 784, 77));
  EXPECT_EQ(warm->train.image_bytes, cold->train.image_bytes);

  // Invalidation: a changed source file is decoded again.
  testing::WriteFashionMnistFiles(dir.path(), MakeImages(12, 28, 10, 1), MakeImages(10, 28, 10, 3),
                                  true);
  absl::StatusOr<LoadedData> fresh = LoadData(options);
  ASSERT_OK(fresh);
  EXPECT_EQ(fresh->test.image_bytes, std::vector<uint8_t>(10 * 784, 3));

  // A damaged entry is a miss, not an error.
  for (const auto& entry : fs::directory_iterator(cache.path())) {
    if (entry.path().extension() == ".raw") fs::resize_file(entry.path(), 100);
  }
  fresh = LoadData(options);
  ASSERT_OK(fresh);
  EXPECT_EQ(fresh->test.image_bytes, std::vector<uint8_t>(10 * 784, 3));
}

TEST(LoadDataImagesTest, TrialsStartingTogetherShareOneCache) {
  testing::TempDir dir;
  testing::TempDir cache;
  testing::WriteFashionMnistFiles(dir.path(), testing::MakeTinyImages(600, 1),
                                  testing::MakeTinyImages(100, 2), true);
  const DataOptions options = ImageOptions(dir.path(), cache.path());
  absl::StatusOr<LoadedData> expected = LoadData(ImageOptions(dir.path(), ""));
  ASSERT_OK(expected);
  // Six processes load at once, twice each (a cold and, usually, a warm
  // load); each exits 0 only if it got exactly the uncached data.
  std::vector<pid_t> children;
  for (int i = 0; i < 6; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int round = 0; round < 2; ++round) {
        absl::StatusOr<LoadedData> data = LoadData(options);
        if (!data.ok() || data->train.image_bytes != expected->train.image_bytes ||
            data->val.labels != expected->val.labels ||
            data->test.image_bytes != expected->test.image_bytes) {
          _exit(1);
        }
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << pid;
  }
  int raw = 0;
  for (const auto& entry : fs::directory_iterator(cache.path())) {
    EXPECT_THAT(entry.path().string(), ::testing::Not(HasSubstr(".tmp.")));
    raw += entry.path().extension() == ".raw";
  }
  EXPECT_EQ(raw, 1);
}

TEST(LoadDataImagesTest, AnUnwritableCacheOnlyCostsTime) {
  testing::TempDir dir;
  testing::WriteFashionMnistFiles(dir.path(), MakeImages(12, 28, 10, 1), MakeImages(10, 28, 10, 2),
                                  false);
  testing::WriteTextFile(dir.File("not-a-dir"), "x");
  EXPECT_OK(LoadData(ImageOptions(dir.path(), dir.File("not-a-dir/cache"))));
}

TEST(LoadDataBadImagesTest, MissingFileWrongMagicWrongShapeAndMissingClassAreNamed) {
  testing::TempDir dir;
  testing::WriteFashionMnistFiles(dir.path(), MakeImages(12, 28, 10, 1), MakeImages(10, 28, 10, 2),
                                  false);
  fs::remove(dir.File("t10k-labels-idx1-ubyte"));
  absl::Status status = LoadData(ImageOptions(dir.path(), "")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()), HasSubstr("t10k-labels-idx1-ubyte"));

  testing::WriteFile(dir.File("t10k-labels-idx1-ubyte"),
                     testing::IdxBytes(0x0803, {10}, std::vector<uint8_t>(10, 0)), false);
  status = LoadData(ImageOptions(dir.path(), "")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("t10k-labels-idx1-ubyte: not an IDX"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("magic number"));

  // Wrong shape: 5x5 images for fashion-mnist; test images unlike training.
  testing::TempDir small;
  testing::WriteFashionMnistFiles(small.path(), MakeImages(12, 5, 3, 1), MakeImages(6, 5, 3, 2),
                                  false);
  status = LoadData(ImageOptions(small.path(), "")).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("5x5, expected 28x28"));
  testing::WriteFashionMnistFiles(small.path(), MakeImages(12, 5, 3, 1), MakeImages(6, 6, 3, 2),
                                  false);
  DataOptions idx = ImageOptions(small.path(), "");
  idx.dataset = "idx";
  status = LoadData(idx).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("t10k-images-idx3-ubyte: images are 6x6"));

  // Class 1 never appears in training (labels 0 and 2 only).
  LabeledImages train = MakeImages(12, 5, 3, 1);
  for (uint8_t& label : train.labels) label = label == 1 ? 2 : label;
  testing::WriteFashionMnistFiles(small.path(), train, MakeImages(6, 5, 3, 2), false);
  status = LoadData(idx).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("train-labels-idx1-ubyte: class 1 (\"1\") has no examples"));

  // A truncated file.
  testing::WriteFile(small.File("train-images-idx3-ubyte"),
                     testing::IdxBytes(0x0803, {12, 5, 5}, std::vector<uint8_t>(100, 0)), false);
  status = LoadData(idx).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(status.message()), HasSubstr("train-images-idx3-ubyte: truncated"));
}

TEST(LoadDataTest, UnknownDatasetAndMissingDataFile) {
  DataOptions options;
  options.dataset = "cifar";
  EXPECT_THAT(std::string(LoadData(options).status().message()), HasSubstr("\"cifar\""));
  options.dataset = "tabular-csv";
  EXPECT_THAT(std::string(LoadData(options).status().message()), HasSubstr("needs a data_file"));
  options.data_file = "/nonexistent/x.csv";
  EXPECT_THAT(LoadData(options), StatusIs(absl::StatusCode::kNotFound));
}

std::string TextCsv(int rows) {
  std::string text = "text,label\n";
  for (int i = 0; i < rows; ++i) {
    text += i % 2 ? "\"cheap pills, buy now\",spam\n" : "meeting notes for monday,ham\n";
  }
  return text;
}

TEST(LoadDataTextTest, TextCsvEncodesWithTheTrainingVocabulary) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("t.csv"), TextCsv(40) + "zebra unseen words,ham\n");
  DataOptions options;
  options.dataset = "text-csv";
  options.data_file = dir.File("t.csv");
  options.max_len = 6;
  options.vocab_size = 100;
  absl::StatusOr<LoadedData> data = LoadData(options);
  ASSERT_OK(data);
  EXPECT_EQ(data->input, InputKind::kTokens);
  EXPECT_THAT(data->example_shape, ElementsAre(6));
  EXPECT_THAT(data->class_names, ElementsAre("ham", "spam"));
  EXPECT_EQ(data->train.count + data->val.count + data->test.count, 41);
  for (const ExampleSet* set : {&data->train, &data->val, &data->test}) {
    ASSERT_EQ(static_cast<int64_t>(set->tokens.size()), set->count * 6);
    for (int64_t id : set->tokens) EXPECT_LT(id, data->vocab_size);
  }
  // 8 distinct training words (+ maybe the zebra line's 3) plus pad and unknown.
  EXPECT_GE(data->vocab_size, 10);
  EXPECT_LE(data->vocab_size, 13);

  // Through the cache: the same data, until the file changes.
  testing::TempDir cache;
  options.cache_dir = cache.path();
  absl::StatusOr<LoadedData> cold = LoadData(options);
  absl::StatusOr<LoadedData> warm = LoadData(options);
  ASSERT_OK(cold);
  ASSERT_OK(warm);
  EXPECT_EQ(warm->train.tokens, data->train.tokens);
  EXPECT_EQ(warm->test.labels, data->test.labels);
  EXPECT_EQ(warm->class_names, data->class_names);
  EXPECT_EQ(warm->vocab_size, data->vocab_size);
  // The vocabulary a saved model needs, from the file and from the cache.
  EXPECT_EQ(static_cast<int64_t>(data->vocabulary.size()) + 2, data->vocab_size);
  EXPECT_THAT(data->vocabulary, ::testing::Contains("cheap"));
  EXPECT_EQ(warm->vocabulary, data->vocabulary);
  testing::WriteTextFile(dir.File("t.csv"), TextCsv(60));
  absl::StatusOr<LoadedData> changed = LoadData(options);
  ASSERT_OK(changed);
  EXPECT_EQ(changed->train.count + changed->val.count + changed->test.count, 60);
}

TEST(LoadDataTextTest, SplitsAreDeterministicPerDataSeed) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i)
    text += "word" + std::to_string(i) + "," + (i % 2 ? "a" : "b") + "\n";
  testing::WriteTextFile(dir.File("t.csv"), text);
  DataOptions options;
  options.dataset = "text-csv";
  options.data_file = dir.File("t.csv");
  options.max_len = 1;
  absl::StatusOr<LoadedData> first = LoadData(options);
  absl::StatusOr<LoadedData> again = LoadData(options);
  ASSERT_OK(first);
  ASSERT_OK(again);
  EXPECT_EQ(first->train.tokens, again->train.tokens);
  EXPECT_EQ(first->test.labels, again->test.labels);
  options.data_seed = 1;
  absl::StatusOr<LoadedData> other = LoadData(options);
  ASSERT_OK(other);
  EXPECT_NE(first->test.labels, other->test.labels);
}

TEST(ShuffleSplitTest, DisjointCoveringAndSeeded) {
  absl::StatusOr<IndexSplit> split = ShuffleSplit(100, 0.2, 0.25, 0, 5);
  ASSERT_OK(split);
  EXPECT_EQ(split->test.size(), 20u);
  EXPECT_EQ(split->val.size(), 20u);
  EXPECT_EQ(split->train.size(), 60u);
  std::set<int64_t> all;
  for (const auto* part : {&split->train, &split->val, &split->test}) {
    EXPECT_TRUE(std::is_sorted(part->begin(), part->end()));
    all.insert(part->begin(), part->end());
  }
  EXPECT_EQ(all.size(), 100u);
  EXPECT_EQ(ShuffleSplit(100, 0.2, 0.25, 0, 5)->test, split->test);
  EXPECT_NE(ShuffleSplit(100, 0.2, 0.25, 0, 6)->test, split->test);
  EXPECT_EQ(ShuffleSplit(100, 0.2, 0.25, 10, 5)->train.size(), 10u);
  EXPECT_THAT(std::string(ShuffleSplit(100, 0.2, 0.25, 61, 5).status().message()),
              HasSubstr("train_subset 61"));
  EXPECT_THAT(ShuffleSplit(2, 0.5, 0.5, 0, 1), Not(IsOk()));
}

TEST(LoadDataTextTest, SpamAssassinFromDataDirOrTheDatasetsDir) {
  testing::TempDir dir;
  const std::string corpus = dir.File("spam-assassin/data");
  for (int i = 0; i < 20; ++i) {
    const std::string group = i % 2 ? "spam-1" : "easy-ham-1";
    fs::create_directories(corpus + "/" + group);
    nlohmann::json mail = {{"group", group},
                           {"text", i % 2 ? "Subject: win\n\nfree cash" : "Subject: hi\n\nlunch"}};
    testing::WriteTextFile(corpus + "/" + group + "/" + std::to_string(i) + ".json", mail.dump());
  }
  DataOptions options;
  options.dataset = "spam-assassin";
  options.data_dir = dir.File("spam-assassin");
  options.max_len = 4;
  absl::StatusOr<LoadedData> data = LoadData(options);
  ASSERT_OK(data);
  EXPECT_THAT(data->class_names, ElementsAre("ham", "spam"));
  EXPECT_EQ(data->test.count, 4);
  EXPECT_EQ(data->val.count, 3);  // round(16 / 6)
  EXPECT_EQ(data->train.count, 13);

  // With a cache, a later load does not parse the files: a JSON file garbled
  // with its size and time kept still loads from the cache, and fails without.
  testing::TempDir cache;
  options.cache_dir = cache.path();
  ASSERT_OK(LoadData(options));
  const std::string victim = corpus + "/spam-1/1.json";
  const auto mtime = fs::last_write_time(victim);
  std::ifstream original_file(victim);
  const std::string original((std::istreambuf_iterator<char>(original_file)),
                             std::istreambuf_iterator<char>());
  testing::WriteTextFile(victim, std::string(original.size(), '#'));
  fs::last_write_time(victim, mtime);
  absl::StatusOr<LoadedData> cached = LoadData(options);
  ASSERT_OK(cached);
  EXPECT_EQ(cached->train.tokens, data->train.tokens);
  options.max_len = 3;  // Another encoding: built again from the cached corpus.
  cached = LoadData(options);
  ASSERT_OK(cached);
  EXPECT_THAT(cached->example_shape, ElementsAre(3));
  EXPECT_EQ(cached->train.tokens.size(), 13u * 3);
  options.cache_dir = "none";
  EXPECT_THAT(std::string(LoadData(options).status().message()), HasSubstr(victim));
  options.cache_dir = "";
  testing::WriteTextFile(victim, original);

  // data_dir left at the image default: $VERNIER_DATASETS/spam-assassin.
  setenv("VERNIER_DATASETS", dir.path().c_str(), 1);
  options.data_dir = kDefaultImageDir;
  absl::StatusOr<LoadedData> by_default = LoadData(options);
  EXPECT_OK(by_default);
  testing::WriteTextFile(dir.File("d.csv"), "x,y\n1,2\n");
  EXPECT_THAT(ResolveDataFile("d.csv"), IsOkAndHolds(dir.File("d.csv")));
  unsetenv("VERNIER_DATASETS");
}

// The real data sets, when present: counts, and LoadData times printed.
double SecondsOf(const std::function<void()>& run) {
  const auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(RealDataTest, FashionMnistColdAndWarm) {
  if (!fs::exists(std::string(kDefaultImageDir) + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  testing::TempDir cache;
  DataOptions options = ImageOptions(kDefaultImageDir, cache.path());
  absl::StatusOr<LoadedData> data;
  const double uncached = SecondsOf([&] { data = LoadData(ImageOptions(kDefaultImageDir, "")); });
  ASSERT_OK(data);
  const double cold = SecondsOf([&] { data = LoadData(options); });
  ASSERT_OK(data);
  const double warm = SecondsOf([&] { data = LoadData(options); });
  ASSERT_OK(data);
  EXPECT_EQ(data->train.count, 50000);
  EXPECT_EQ(data->val.count, 10000);
  EXPECT_EQ(data->test.count, 10000);
  std::printf(
      "[ timing ] Fashion-MNIST LoadData: no cache %.3f s, cold (decode + write) %.3f s, "
      "warm (cache hit) %.3f s\n",
      uncached, cold, warm);
}

TEST(RealDataTest, FetchedCorporaWhenPresent) {
  const std::string datasets = DefaultDatasetsDir();
  int found = 0;
  if (fs::exists(datasets + "/spam-assassin")) {
    ++found;
    DataOptions options;
    options.dataset = "spam-assassin";
    options.data_dir = datasets + "/spam-assassin";
    absl::StatusOr<LoadedData> data;
    const double seconds = SecondsOf([&] { data = LoadData(options); });
    ASSERT_OK(data);
    testing::TempDir cache;
    options.cache_dir = cache.path();
    const double cold = SecondsOf([&] { data = LoadData(options); });
    ASSERT_OK(data);
    const double warm = SecondsOf([&] { data = LoadData(options); });
    ASSERT_OK(data);
    std::printf(
        "[ timing ] SpamAssassin LoadData (max_len %lld, vocab_size %lld): cold (parse + "
        "write) %.3f s, warm (cache hit) %.3f s\n",
        static_cast<long long>(options.max_len), static_cast<long long>(options.vocab_size), cold,
        warm);
    int64_t spam = 0;
    for (const ExampleSet* set : {&data->train, &data->val, &data->test}) {
      for (int64_t label : set->labels) spam += label;
    }
    const int64_t total = data->train.count + data->val.count + data->test.count;
    EXPECT_EQ(total, 6046);
    std::printf(
        "[ timing ] SpamAssassin LoadData, no cache %.3f s: %lld e-mails (%lld spam), train %lld, "
        "val %lld, test %lld, vocab %lld\n",
        seconds, static_cast<long long>(total), static_cast<long long>(spam),
        static_cast<long long>(data->train.count), static_cast<long long>(data->val.count),
        static_cast<long long>(data->test.count), static_cast<long long>(data->vocab_size));
  }
  for (const char* name : {"diabetes.csv", "breast_cancer.csv"}) {
    if (!fs::exists(datasets + "/" + name)) continue;
    ++found;
    DataOptions options;
    options.dataset = "tabular-csv";
    options.data_file = name;
    absl::StatusOr<LoadedData> data = LoadData(options);
    ASSERT_OK(data);
    std::printf("[ data ] %s: %s, %lld features, train %lld, val %lld, test %lld\n", name,
                data->task == TaskKind::kRegression ? "regression" : "classification",
                static_cast<long long>(data->example_shape[0]),
                static_cast<long long>(data->train.count), static_cast<long long>(data->val.count),
                static_cast<long long>(data->test.count));
    // Braces: EXPECT_* expands to an if/else of its own (-Wdangling-else).
    if (std::string(name) == "diabetes.csv") {
      EXPECT_EQ(data->task, TaskKind::kRegression);
    }
    if (std::string(name) == "breast_cancer.csv") {
      EXPECT_EQ(data->num_classes, 2);
    }
  }
  if (found == 0) GTEST_SKIP() << "nothing fetched in " << datasets << " (scripts/fetch-data.sh)";
}

}  // namespace
}  // namespace vernier

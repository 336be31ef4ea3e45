#include "trainer/data.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "trainer/dataset_cache.h"
#include "trainer/datasets.h"
#include "trainer/idx.h"
#include "trainer/tabular_data.h"
#include "trainer/text_data.h"

namespace vernier {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kFashionMnistSide = 28;
constexpr char kImageCacheKind[] = "idx-images";
constexpr char kTextCacheKind[] = "text-encoded";

const std::vector<std::string>& FashionMnistClassNames() {
  static const std::vector<std::string>* const names =
      new std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return *names;
}

// The train and test images of an IDX data set, as decoded from the files.
struct ImageParts {
  LabeledImages train;
  LabeledImages test;
};

std::string ResolveCacheDir(const std::string& cache_dir) {
  if (cache_dir == "auto") return DefaultCacheDir();
  if (cache_dir == "none") return "";
  return cache_dir;
}

absl::Span<const uint8_t> Bytes(const std::vector<uint8_t>& v) { return absl::MakeConstSpan(v); }

std::vector<uint8_t> EncodeDims(const ImageParts& parts) {
  const int64_t dims[6] = {parts.train.count, parts.train.rows, parts.train.cols,
                           parts.test.count,  parts.test.rows,  parts.test.cols};
  std::vector<uint8_t> bytes(sizeof(dims));
  std::memcpy(bytes.data(), dims, sizeof(dims));
  return bytes;
}

// Rebuilds the parts from a cache entry; false if the entry is inconsistent.
bool DecodeParts(std::vector<std::vector<uint8_t>>& blobs, ImageParts& parts) {
  int64_t dims[6];
  if (blobs.size() != 5 || blobs[0].size() != sizeof(dims)) return false;
  std::memcpy(dims, blobs[0].data(), sizeof(dims));
  LabeledImages* images[2] = {&parts.train, &parts.test};
  for (int i = 0; i < 2; ++i) {
    LabeledImages& part = *images[i];
    part.count = dims[3 * i];
    part.rows = dims[3 * i + 1];
    part.cols = dims[3 * i + 2];
    part.pixels = std::move(blobs[1 + 2 * i]);
    part.labels = std::move(blobs[2 + 2 * i]);
    if (part.count < 0 || part.rows < 0 || part.cols < 0 ||
        static_cast<int64_t>(part.labels.size()) != part.count ||
        static_cast<int64_t>(part.pixels.size()) != part.count * part.rows * part.cols) {
      return false;
    }
  }
  return true;
}

// Reads the four IDX files, through the cache when `cache_dir` is not empty.
absl::StatusOr<ImageParts> ReadImageParts(const std::vector<std::string>& files,
                                          const std::string& cache_dir) {
  std::string key;
  if (!cache_dir.empty()) {
    ASSIGN_OR_RETURN(key, MakeCacheKey(kImageCacheKind, files));
    std::optional<std::vector<std::vector<uint8_t>>> blobs =
        ReadCacheEntry(cache_dir, kImageCacheKind, key);
    ImageParts parts;
    if (blobs.has_value() && DecodeParts(*blobs, parts)) return parts;
  }
  ImageParts parts;
  // Labels are bytes; the class count is decided by the caller.
  ASSIGN_OR_RETURN(parts.train, ReadIdxPair(files[0], files[1], 256));
  ASSIGN_OR_RETURN(parts.test, ReadIdxPair(files[2], files[3], 256));
  if (!cache_dir.empty()) {
    // A failed write only costs the next trial time; the data is good.
    (void)WriteCacheEntry(
        cache_dir, kImageCacheKind, key,
        {Bytes(EncodeDims(parts)), Bytes(parts.train.pixels), Bytes(parts.train.labels),
         Bytes(parts.test.pixels), Bytes(parts.test.labels)});
  }
  return parts;
}

absl::Status CheckImageParts(const ImageParts& parts, bool fashion_mnist,
                             const std::vector<std::string>& files) {
  if (fashion_mnist &&
      (parts.train.rows != kFashionMnistSide || parts.train.cols != kFashionMnistSide)) {
    return absl::InvalidArgumentError(absl::StrCat(files[0], ": images are ", parts.train.rows, "x",
                                                   parts.train.cols, ", expected 28x28"));
  }
  if (parts.test.rows != parts.train.rows || parts.test.cols != parts.train.cols) {
    return absl::InvalidArgumentError(absl::StrCat(
        files[2], ": images are ", parts.test.rows, "x", parts.test.cols, ", but those of ",
        files[0], " are ", parts.train.rows, "x", parts.train.cols));
  }
  const int limit = fashion_mnist ? 10 : 256;
  for (int i = 0; i < 2; ++i) {
    const LabeledImages& part = i == 0 ? parts.train : parts.test;
    for (int64_t j = 0; j < part.count; ++j) {
      if (part.labels[j] >= limit) {
        return absl::InvalidArgumentError(
            absl::StrCat(files[2 * i + 1], ": label ", int{part.labels[j]}, " at index ", j,
                         " is out of range (expected 0 to ", limit - 1, ")"));
      }
    }
  }
  return absl::OkStatus();
}

void CopyImages(const LabeledImages& from, int64_t begin, int64_t count, ExampleSet& to) {
  const int64_t size = from.rows * from.cols;
  to.count = count;
  to.image_bytes.assign(from.pixels.begin() + begin * size,
                        from.pixels.begin() + (begin + count) * size);
  to.labels.assign(from.labels.begin() + begin, from.labels.begin() + begin + count);
}

absl::StatusOr<LoadedData> LoadImages(const DataOptions& options) {
  const bool fashion_mnist = options.dataset == "fashion-mnist";
  const std::string dir = options.data_dir.empty() ? kDefaultImageDir : options.data_dir;
  std::vector<std::string> files;
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    ASSIGN_OR_RETURN(std::string file, FindIdxFile(dir, name));
    files.push_back(std::move(file));
  }
  ASSIGN_OR_RETURN(ImageParts parts, ReadImageParts(files, ResolveCacheDir(options.cache_dir)));
  RETURN_IF_ERROR(CheckImageParts(parts, fashion_mnist, files));
  ASSIGN_OR_RETURN(SplitPlan plan,
                   PlanSplit(parts.train.count, options.val_fraction, options.train_subset));
  LoadedData data;
  data.task = TaskKind::kClassification;
  data.input = InputKind::kImageBytes;
  data.example_shape = {1, parts.train.rows, parts.train.cols};
  if (fashion_mnist) {
    data.class_names = FashionMnistClassNames();
  } else {
    int max_label = 0;
    for (uint8_t label : parts.train.labels) max_label = std::max<int>(max_label, label);
    for (uint8_t label : parts.test.labels) max_label = std::max<int>(max_label, label);
    for (int k = 0; k <= max_label; ++k) data.class_names.push_back(absl::StrCat(k));
  }
  data.num_classes = static_cast<int>(data.class_names.size());
  CopyImages(parts.train, plan.val_begin, plan.val_count, data.val);
  // The training images are a prefix of the file: shrink in place, no copy.
  data.train.count = plan.train_count;
  data.train.image_bytes = std::move(parts.train.pixels);
  data.train.image_bytes.resize(plan.train_count * parts.train.rows * parts.train.cols);
  data.train.labels.assign(parts.train.labels.begin(),
                           parts.train.labels.begin() + plan.train_count);
  data.test.count = parts.test.count;
  data.test.image_bytes = std::move(parts.test.pixels);
  data.test.labels.assign(parts.test.labels.begin(), parts.test.labels.end());
  RETURN_IF_ERROR(CheckEveryClassPresent(data.train.labels, data.class_names, files[1]));
  return data;
}

void EncodeTexts(const TextCorpus& corpus, const std::vector<int64_t>& rows,
                 const Vocabulary& vocabulary, int64_t max_len, ExampleSet& out) {
  out.count = static_cast<int64_t>(rows.size());
  out.tokens.reserve(rows.size() * static_cast<size_t>(max_len));
  for (int64_t row : rows) {
    vocabulary.Encode(corpus.texts[static_cast<size_t>(row)], max_len, out.tokens);
    out.labels.push_back(corpus.labels[static_cast<size_t>(row)]);
  }
}

absl::StatusOr<LoadedData> LoadText(const DataOptions& options, const TextCorpus& corpus) {
  if (options.max_len < 1 || options.vocab_size < 3) {
    return absl::InvalidArgumentError(absl::StrCat("max_len (", options.max_len,
                                                   ") must be >= 1 and vocab_size (",
                                                   options.vocab_size, ") >= 3"));
  }
  ASSIGN_OR_RETURN(IndexSplit split,
                   ShuffleSplit(static_cast<int64_t>(corpus.texts.size()), options.test_fraction,
                                options.val_fraction, options.train_subset, options.data_seed));
  std::vector<const std::string*> train_texts;
  for (int64_t row : split.train) train_texts.push_back(&corpus.texts[static_cast<size_t>(row)]);
  const Vocabulary vocabulary = Vocabulary::Build(train_texts, options.vocab_size);
  LoadedData data;
  data.task = TaskKind::kClassification;
  data.input = InputKind::kTokens;
  data.example_shape = {options.max_len};
  data.class_names = corpus.class_names;
  data.num_classes = static_cast<int>(corpus.class_names.size());
  data.vocab_size = vocabulary.size();
  data.vocabulary = vocabulary.tokens();
  EncodeTexts(corpus, split.train, vocabulary, options.max_len, data.train);
  EncodeTexts(corpus, split.val, vocabulary, options.max_len, data.val);
  EncodeTexts(corpus, split.test, vocabulary, options.max_len, data.test);
  RETURN_IF_ERROR(CheckEveryClassPresent(data.train.labels, data.class_names, corpus.source));
  return data;
}

// The options that shape an encoded text data set, for its cache key.
std::string TextEncodingKey(const DataOptions& o) {
  return absl::StrFormat(
      "encoding test_fraction %.17g val_fraction %.17g train_subset %d data_seed %u max_len %d "
      "vocab_size %d\n",
      o.test_fraction, o.val_fraction, o.train_subset, o.data_seed, o.max_len, o.vocab_size);
}

absl::Span<const uint8_t> Int64Bytes(const std::vector<int64_t>& v) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()),
                                   v.size() * sizeof(int64_t));
}

bool BytesToInt64s(const std::vector<uint8_t>& bytes, int64_t count, std::vector<int64_t>& out) {
  if (count < 0 || bytes.size() != static_cast<size_t>(count) * sizeof(int64_t)) return false;
  out.resize(static_cast<size_t>(count));
  if (count > 0) std::memcpy(out.data(), bytes.data(), bytes.size());
  return true;
}

// Appends each of `names` and a '\0' to `blob` (tokens and class names hold no
// '\0').
void AppendNames(const std::vector<std::string>& names, std::vector<uint8_t>& blob) {
  for (const std::string& name : names) {
    blob.insert(blob.end(), name.begin(), name.end());
    blob.push_back('\0');
  }
}

// The inverse of AppendNames.
std::vector<std::string> SplitNames(const std::vector<uint8_t>& blob) {
  std::vector<std::string> names;
  std::string name;
  for (uint8_t byte : blob) {
    if (byte != 0) {
      name.push_back(static_cast<char>(byte));
    } else {
      names.push_back(std::move(name));
      name.clear();
    }
  }
  return names;
}

// Cache blobs of an encoded text data set: sizes, class names ('\0' after
// each), tokens and labels of train, val and test, then the vocabulary ('\0'
// after each token; a saved model needs it).
std::vector<std::vector<uint8_t>> EncodeTextData(const LoadedData& data) {
  const int64_t meta[5] = {data.vocab_size, data.example_shape[0], data.train.count, data.val.count,
                           data.test.count};
  std::vector<std::vector<uint8_t>> blobs(2);
  blobs[0].resize(sizeof(meta));
  std::memcpy(blobs[0].data(), meta, sizeof(meta));
  AppendNames(data.class_names, blobs[1]);
  for (const ExampleSet* set : {&data.train, &data.val, &data.test}) {
    const absl::Span<const uint8_t> tokens = Int64Bytes(set->tokens);
    const absl::Span<const uint8_t> labels = Int64Bytes(set->labels);
    blobs.emplace_back(tokens.begin(), tokens.end());
    blobs.emplace_back(labels.begin(), labels.end());
  }
  blobs.emplace_back();
  AppendNames(data.vocabulary, blobs.back());
  return blobs;
}

// Rebuilds an encoded text data set from cache blobs; false if inconsistent.
bool DecodeTextData(const std::vector<std::vector<uint8_t>>& blobs, LoadedData& data) {
  int64_t meta[5];
  // An entry of 8 blobs predates the vocabulary blob: rebuilt.
  if (blobs.size() != 9 || blobs[0].size() != sizeof(meta)) return false;
  std::memcpy(meta, blobs[0].data(), sizeof(meta));
  data.task = TaskKind::kClassification;
  data.input = InputKind::kTokens;
  data.vocab_size = meta[0];
  data.example_shape = {meta[1]};
  data.class_names = SplitNames(blobs[1]);
  data.vocabulary = SplitNames(blobs[8]);
  if (static_cast<int64_t>(data.vocabulary.size()) + 2 != data.vocab_size) return false;
  data.num_classes = static_cast<int>(data.class_names.size());
  ExampleSet* sets[3] = {&data.train, &data.val, &data.test};
  for (int i = 0; i < 3; ++i) {
    sets[i]->count = meta[2 + i];
    if (!BytesToInt64s(blobs[2 + 2 * i], meta[2 + i] * meta[1], sets[i]->tokens) ||
        !BytesToInt64s(blobs[3 + 2 * i], meta[2 + i], sets[i]->labels)) {
      return false;
    }
  }
  return data.num_classes >= 2;
}

// Loads a text data set whose corpus `read` returns from the files `sources`,
// through the cache of encoded data sets when options.cache_dir names one:
// a later trial with the same sources and encoding options skips reading,
// the vocabulary and the encoding.
absl::StatusOr<LoadedData> LoadTextCached(
    const DataOptions& options, const std::vector<std::string>& sources,
    const std::function<absl::StatusOr<TextCorpus>(const std::string& cache_dir)>& read) {
  const std::string cache_dir = ResolveCacheDir(options.cache_dir);
  std::string key;
  if (!cache_dir.empty()) {
    ASSIGN_OR_RETURN(key, MakeCacheKey(kTextCacheKind, sources));
    key += TextEncodingKey(options);
    LoadedData data;
    std::optional<std::vector<std::vector<uint8_t>>> blobs =
        ReadCacheEntry(cache_dir, kTextCacheKind, key);
    if (blobs.has_value() && DecodeTextData(*blobs, data)) return data;
  }
  ASSIGN_OR_RETURN(TextCorpus corpus, read(cache_dir));
  ASSIGN_OR_RETURN(LoadedData data, LoadText(options, corpus));
  if (!cache_dir.empty()) {
    const std::vector<std::vector<uint8_t>> blobs = EncodeTextData(data);
    std::vector<absl::Span<const uint8_t>> spans;
    for (const std::vector<uint8_t>& blob : blobs) spans.push_back(absl::MakeConstSpan(blob));
    (void)WriteCacheEntry(cache_dir, kTextCacheKind, key, spans);  // Only costs time if it fails.
  }
  return data;
}

absl::StatusOr<std::string> RequireDataFile(const DataOptions& options) {
  if (options.data_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("data_file: dataset ", options.dataset, " needs a data_file"));
  }
  return ResolveDataFile(options.data_file);
}

}  // namespace

std::string DefaultDatasetsDir() {
  const char* explicit_dir = std::getenv("VERNIER_DATASETS");
  if (explicit_dir != nullptr && explicit_dir[0] != '\0') return explicit_dir;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/vernier/datasets");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return absl::StrCat(home, "/.cache/vernier/datasets");
  return "vernier-datasets";
}

absl::StatusOr<std::string> ResolveDataFile(const std::string& data_file) {
  std::error_code error;
  if (fs::exists(data_file, error) || fs::path(data_file).is_absolute()) return data_file;
  const std::string in_datasets = (fs::path(DefaultDatasetsDir()) / data_file).string();
  if (fs::exists(in_datasets, error)) return in_datasets;
  return absl::NotFoundError(absl::StrCat(data_file, ": no such file (nor ", in_datasets,
                                          "; scripts/fetch-data.sh fetches the examples)"));
}

absl::StatusOr<LoadedData> LoadData(const DataOptions& options) {
  const std::string& dataset = options.dataset;
  if (dataset == "fashion-mnist" || dataset == "idx") return LoadImages(options);
  if (dataset == "spam-assassin") {
    const std::string dir = options.data_dir.empty() || options.data_dir == kDefaultImageDir
                                ? DefaultDatasetsDir() + "/spam-assassin"
                                : options.data_dir;
    ASSIGN_OR_RETURN(std::vector<std::string> files, SpamAssassinFiles(dir));
    return LoadTextCached(options, files, [&dir](const std::string& cache_dir) {
      return ReadSpamAssassin(dir, cache_dir);
    });
  }
  if (dataset == "text-csv") {
    ASSIGN_OR_RETURN(std::string path, RequireDataFile(options));
    return LoadTextCached(options, {path},
                          [&path](const std::string&) { return ReadTextCsv(path); });
  }
  if (dataset == "tabular-csv") {
    ASSIGN_OR_RETURN(std::string path, RequireDataFile(options));
    return LoadTabular(options, path);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("dataset: unknown value \"", dataset,
                   "\" (expected fashion-mnist, idx, spam-assassin, text-csv, tabular-csv)"));
}

}  // namespace vernier

#include "trainer/text_data.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/csv.h"
#include "trainer/dataset_cache.h"

namespace vernier {
namespace {

namespace fs = std::filesystem;

// Returns the value of header `name` (case-insensitive) in `headers`, with
// folded continuation lines joined; "" if absent.
std::string HeaderValue(absl::string_view headers, absl::string_view name) {
  std::string value;
  bool in_header = false;
  for (absl::string_view line : absl::StrSplit(headers, '\n')) {
    if (in_header && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      absl::StrAppend(&value, " ", absl::StripAsciiWhitespace(line));
      continue;
    }
    if (in_header) break;
    const size_t colon = line.find(':');
    if (colon != absl::string_view::npos && absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
      value = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      in_header = true;
    }
  }
  return value;
}

// Returns the files named *.json in the subdirectories of `data_dir`, sorted.
absl::StatusOr<std::vector<fs::path>> ListCorpusFiles(const fs::path& data_dir) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const fs::directory_entry& group : fs::directory_iterator(data_dir, error)) {
    if (!group.is_directory(error)) continue;
    for (const fs::directory_entry& file : fs::directory_iterator(group.path(), error)) {
      if (file.path().extension() == ".json") files.push_back(file.path());
    }
    if (error) break;
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat(data_dir.string(), ": cannot list: ", error.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::string> ReadMailText(const fs::path& file, std::string& group) {
  ASSIGN_OR_RETURN(std::string raw, ReadTextFile(file.string()));
  nlohmann::json mail = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (mail.is_discarded() || !mail.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": not a JSON object"));
  }
  auto text = mail.find("text");
  if (text == mail.end() || !text->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": no string field \"text\""));
  }
  auto group_field = mail.find("group");
  group = group_field != mail.end() && group_field->is_string()
              ? group_field->get<std::string>()
              : file.parent_path().filename().string();
  return MailSubjectAndBody(text->get_ref<const std::string&>());
}

constexpr char kCorpusCacheKind[] = "spam-assassin";

// A corpus as cache blobs: a label byte per text, each text's end offset
// (little-endian int64) in `text`, and the texts one after another.
struct CorpusBlobs {
  std::vector<uint8_t> labels;
  std::vector<uint8_t> ends;
  std::vector<uint8_t> text;
};

CorpusBlobs EncodeCorpus(const TextCorpus& corpus) {
  CorpusBlobs blobs;
  for (size_t i = 0; i < corpus.texts.size(); ++i) {
    blobs.labels.push_back(static_cast<uint8_t>(corpus.labels[i]));
    blobs.text.insert(blobs.text.end(), corpus.texts[i].begin(), corpus.texts[i].end());
    const uint64_t end = blobs.text.size();
    for (int b = 0; b < 8; ++b) blobs.ends.push_back(static_cast<uint8_t>(end >> (8 * b)));
  }
  return blobs;
}

// Fills `corpus` from cache blobs; false if they are inconsistent.
bool DecodeCorpus(const std::vector<std::vector<uint8_t>>& blobs, TextCorpus& corpus) {
  if (blobs.size() != 3 || blobs[1].size() != 8 * blobs[0].size()) return false;
  uint64_t begin = 0;
  for (size_t i = 0; i < blobs[0].size(); ++i) {
    uint64_t end = 0;
    for (int b = 0; b < 8; ++b) end |= uint64_t{blobs[1][8 * i + b]} << (8 * b);
    if (end < begin || end > blobs[2].size() || blobs[0][i] > 1) return false;
    corpus.texts.emplace_back(reinterpret_cast<const char*>(blobs[2].data()) + begin, end - begin);
    corpus.labels.push_back(blobs[0][i]);
    corpus.lines.push_back(0);
    begin = end;
  }
  return !corpus.texts.empty();
}

bool AllIntegers(const std::set<std::string>& values) {
  for (const std::string& value : values) {
    int64_t ignored;
    if (!absl::SimpleAtoi(value, &ignored)) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> Tokenize(absl::string_view text) {
  std::vector<std::string> tokens;
  ForEachToken(text, [&tokens](absl::string_view token) {
    tokens.emplace_back(token);
    return true;
  });
  return tokens;
}

Vocabulary Vocabulary::Build(const std::vector<const std::string*>& texts, int64_t vocab_size) {
  absl::flat_hash_map<std::string, int64_t> counts;
  for (const std::string* text : texts) {
    ForEachToken(*text, [&counts](absl::string_view token) {
      auto it = counts.find(token);
      if (it == counts.end()) {
        counts.emplace(token, 1);
      } else {
        ++it->second;
      }
      return true;
    });
  }
  std::vector<std::pair<int64_t, std::string>> ranked;
  ranked.reserve(counts.size());
  for (auto& [token, count] : counts) ranked.emplace_back(-count, token);
  const size_t keep = static_cast<size_t>(std::max<int64_t>(0, vocab_size - 2));
  const size_t kept = std::min(keep, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + kept, ranked.end());
  Vocabulary vocabulary;
  for (size_t i = 0; i < kept; ++i) {
    vocabulary.ids_.emplace(ranked[i].second, static_cast<int64_t>(i) + 2);
    vocabulary.tokens_.push_back(std::move(ranked[i].second));
  }
  return vocabulary;
}

int64_t Vocabulary::IdOf(absl::string_view token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? kUnknownTokenId : it->second;
}

void Vocabulary::Encode(absl::string_view text, int64_t max_len, std::vector<int64_t>& out) const {
  int64_t used = 0;
  if (max_len > 0) {
    ForEachToken(text, [&](absl::string_view token) {
      out.push_back(IdOf(token));
      return ++used < max_len;
    });
  }
  out.insert(out.end(), static_cast<size_t>(max_len - used), kPadTokenId);
}

std::string MailSubjectAndBody(absl::string_view message) {
  size_t split = message.find("\n\n");
  size_t body_start = split == absl::string_view::npos ? 0 : split + 2;
  if (absl::string_view crlf = "\r\n\r\n"; message.find(crlf) < split) {
    split = message.find(crlf);
    body_start = split + 4;
  }
  if (split == absl::string_view::npos) return std::string(message);
  return absl::StrCat(HeaderValue(message.substr(0, split), "Subject"), "\n",
                      message.substr(body_start));
}

absl::StatusOr<std::vector<std::string>> SpamAssassinFiles(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(
        absl::StrCat(dir,
                     ": no such directory; fetch the SpamAssassin corpus with "
                     "scripts/fetch-data.sh and set data_dir"));
  }
  const fs::path data_dir =
      fs::is_directory(fs::path(dir) / "data", error) ? fs::path(dir) / "data" : fs::path(dir);
  ASSIGN_OR_RETURN(std::vector<fs::path> paths, ListCorpusFiles(data_dir));
  std::vector<std::string> files;
  for (const fs::path& path : paths) files.push_back(path.string());
  return files;
}

absl::StatusOr<TextCorpus> ReadSpamAssassin(const std::string& dir, const std::string& cache_dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> files, SpamAssassinFiles(dir));
  TextCorpus corpus;
  corpus.source = dir;
  corpus.class_names = {"ham", "spam"};
  std::string key;
  if (!cache_dir.empty() && !files.empty()) {
    ASSIGN_OR_RETURN(key, MakeCacheKey(kCorpusCacheKind, files));
    if (std::optional<std::vector<std::vector<uint8_t>>> blobs =
            ReadCacheEntry(cache_dir, kCorpusCacheKind, key);
        blobs.has_value() && DecodeCorpus(*blobs, corpus)) {
      return corpus;
    }
  }
  int64_t spam = 0;
  for (const std::string& file : files) {
    std::string group;
    ASSIGN_OR_RETURN(std::string text, ReadMailText(file, group));
    const int64_t label = absl::StartsWith(group, "spam") ? 1 : 0;
    spam += label;
    corpus.texts.push_back(std::move(text));
    corpus.labels.push_back(label);
    corpus.lines.push_back(0);
  }
  const int64_t total = static_cast<int64_t>(corpus.texts.size());
  if (total == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": empty corpus: no <group>/*.json e-mail files in its subdirectories"));
  }
  if (spam == 0 || spam == total) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": the class \"",
                                                   spam == 0 ? "spam" : "ham",
                                                   "\" has no examples among ", total, " e-mails"));
  }
  if (!cache_dir.empty()) {
    // A failed write only costs the next trial time.
    const CorpusBlobs blobs = EncodeCorpus(corpus);
    (void)WriteCacheEntry(cache_dir, kCorpusCacheKind, key,
                          {absl::MakeConstSpan(blobs.labels), absl::MakeConstSpan(blobs.ends),
                           absl::MakeConstSpan(blobs.text)});
  }
  return corpus;
}

std::vector<std::string> ClassNamesOf(const std::vector<std::string>& labels,
                                      std::vector<int64_t>& ids) {
  const std::set<std::string> distinct(labels.begin(), labels.end());
  std::vector<std::string> names(distinct.begin(), distinct.end());
  if (AllIntegers(distinct)) {
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      int64_t x = 0, y = 0;
      (void)absl::SimpleAtoi(a, &x);
      (void)absl::SimpleAtoi(b, &y);
      return x < y;
    });
  }
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < names.size(); ++i) index[names[i]] = static_cast<int64_t>(i);
  ids.clear();
  for (const std::string& label : labels) ids.push_back(index[label]);
  return names;
}

absl::StatusOr<TextCorpus> ReadTextCsv(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<CsvRow> rows, ReadDelimitedFile(path));
  size_t first = 0;
  if (!rows.empty() && rows[0].fields.size() == 2 &&
      absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(rows[0].fields[1]), "label")) {
    first = 1;
  }
  TextCorpus corpus;
  corpus.source = path;
  std::vector<std::string> labels;
  for (size_t i = first; i < rows.size(); ++i) {
    CsvRow& row = rows[i];
    if (row.fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", row.line, ": expected 2 fields (text, label), got ",
                       row.fields.size(), "; quote texts that hold the delimiter"));
    }
    std::string label(absl::StripAsciiWhitespace(row.fields[1]));
    if (label.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", row.line, ": empty label"));
    }
    corpus.texts.push_back(std::move(row.fields[0]));
    labels.push_back(std::move(label));
    corpus.lines.push_back(row.line);
  }
  if (corpus.texts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty corpus: no text,label records"));
  }
  corpus.class_names = ClassNamesOf(labels, corpus.labels);
  if (corpus.class_names.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": every record has the label \"",
                                                   corpus.class_names[0],
                                                   "\"; a classifier needs at least two classes"));
  }
  return corpus;
}

}  // namespace vernier

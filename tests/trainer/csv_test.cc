#include "trainer/csv.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

TEST(ParseDelimitedTest, SplitsFieldsAndKeepsLineNumbers) {
  absl::StatusOr<std::vector<CsvRow>> rows = ParseDelimited("a,b\r\n\n1,2\n3,\n", ',', "f.csv");
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_THAT((*rows)[0].fields, ElementsAre("a", "b"));
  EXPECT_EQ((*rows)[0].line, 1);
  EXPECT_THAT((*rows)[1].fields, ElementsAre("1", "2"));
  EXPECT_EQ((*rows)[1].line, 3);
  EXPECT_THAT((*rows)[2].fields, ElementsAre("3", ""));
}

TEST(ParseDelimitedTest, QuotedFieldsHoldDelimitersQuotesAndLineBreaks) {
  absl::StatusOr<std::vector<CsvRow>> rows =
      ParseDelimited("\"hi, \"\"you\"\"\nthere\",spam\nlast,ham", ',', "f.csv");
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_THAT((*rows)[0].fields, ElementsAre("hi, \"you\"\nthere", "spam"));
  EXPECT_EQ((*rows)[1].line, 3);
  EXPECT_THAT((*rows)[1].fields, ElementsAre("last", "ham"));
}

TEST(ParseDelimitedTest, TabDelimiter) {
  absl::StatusOr<std::vector<CsvRow>> rows = ParseDelimited("a,b\tc\n", '\t', "f.tsv");
  ASSERT_OK(rows);
  EXPECT_THAT((*rows)[0].fields, ElementsAre("a,b", "c"));
  EXPECT_EQ(DelimiterForPath("x/data.TSV"), '\t');
  EXPECT_EQ(DelimiterForPath("x/data.csv"), ',');
}

TEST(ParseDelimitedTest, UnterminatedQuoteNamesSourceAndLine) {
  absl::Status status = ParseDelimited("a,b\n\"open,1\n2,3\n", ',', "f.csv").status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("f.csv:2: quoted field never ends"));
  status = ParseDelimited("\"a\"x,b\n", ',', "g.csv").status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("g.csv:1: unexpected character 'x'"));
}

TEST(ReadDelimitedFileTest, MissingFileIsNotFound) {
  testing::TempDir dir;
  absl::Status status = ReadDelimitedFile(dir.File("absent.csv")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir.File("absent.csv")));
}

}  // namespace
}  // namespace vernier

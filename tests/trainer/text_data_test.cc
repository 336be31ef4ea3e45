#include "trainer/text_data.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

TEST(TokenizeTest, LowercasesAndSplitsOnNonAlphanumerics) {
  EXPECT_THAT(Tokenize("Don't STOP-me now!! 42x"),
              ElementsAre("don", "t", "stop", "me", "now", "42x"));
  EXPECT_THAT(Tokenize("  \n"), ElementsAre());
  // UTF-8 bytes stay inside words.
  EXPECT_THAT(Tokenize("Café, naïve"), ElementsAre("café", "naïve"));
}

TEST(VocabularyTest, KeepsTheMostFrequentTokensWithDeterministicTies) {
  const std::string a = "b a c a b a d";
  const std::string b = "c";
  // Counts: a 3, b 2, c 2, d 1. vocab_size 4 keeps two tokens: a, then b
  // (tied with c, first in byte order).
  Vocabulary vocabulary = Vocabulary::Build({&a, &b}, 4);
  EXPECT_EQ(vocabulary.size(), 4);
  EXPECT_THAT(vocabulary.tokens(), ElementsAre("a", "b"));
  EXPECT_EQ(vocabulary.IdOf("a"), 2);
  EXPECT_EQ(vocabulary.IdOf("b"), 3);
  EXPECT_EQ(vocabulary.IdOf("c"), kUnknownTokenId);
}

TEST(VocabularyTest, EncodePadsAndTruncates) {
  const std::string text = "x y x";
  Vocabulary vocabulary = Vocabulary::Build({&text}, 10);  // x -> 2, y -> 3.
  std::vector<int64_t> ids;
  vocabulary.Encode("y x z", 5, ids);
  EXPECT_THAT(ids, ElementsAre(3, 2, kUnknownTokenId, kPadTokenId, kPadTokenId));
  ids.clear();
  vocabulary.Encode("x x y y x", 2, ids);
  EXPECT_THAT(ids, ElementsAre(2, 2));
}

TEST(MailSubjectAndBodyTest, KeepsSubjectAndBodyOnly) {
  const std::string mail =
      "From: a@b.c\nSubject: Cheap\n  pills\nX-Mailer: list\n\nBuy now.\n\nReally.";
  EXPECT_EQ(MailSubjectAndBody(mail), "Cheap pills\nBuy now.\n\nReally.");
  EXPECT_EQ(MailSubjectAndBody("no headers at all"), "no headers at all");
}

// Writes one e-mail as the npm package stores it.
void WriteMail(const std::string& dir, const std::string& group, const std::string& id,
               const std::string& text) {
  std::filesystem::create_directories(dir + "/" + group);
  nlohmann::json mail = {{"id", id}, {"group", group}, {"text", text}};
  testing::WriteTextFile(dir + "/" + group + "/" + id + ".json", mail.dump());
}

TEST(ReadSpamAssassinTest, ReadsGroupsAsHamAndSpam) {
  testing::TempDir dir;
  const std::string data = dir.File("data");
  WriteMail(data, "easy-ham-1", "00001", "Subject: hello\n\nmeeting at noon");
  WriteMail(data, "spam-1", "00001", "Subject: WIN\n\nfree money");
  WriteMail(data, "hard-ham-1", "00002", "Subject: re\n\nok");
  absl::StatusOr<TextCorpus> corpus = ReadSpamAssassin(dir.path());  // The package root.
  ASSERT_OK(corpus);
  EXPECT_THAT(corpus->class_names, ElementsAre("ham", "spam"));
  // Sorted paths: easy-ham-1, hard-ham-1, spam-1.
  EXPECT_THAT(corpus->labels, ElementsAre(0, 0, 1));
  EXPECT_EQ(corpus->texts[2], "WIN\nfree money");
  ASSERT_OK(ReadSpamAssassin(data));  // The data/ directory itself.
}

TEST(ReadSpamAssassinTest, BadCorporaAreNamed) {
  testing::TempDir dir;
  absl::Status status = ReadSpamAssassin(dir.File("absent")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir.File("absent")));

  status = ReadSpamAssassin(dir.path()).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("empty corpus"));

  WriteMail(dir.path(), "easy-ham-1", "1", "hi");
  status = ReadSpamAssassin(dir.path()).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("\"spam\" has no examples"));

  std::filesystem::create_directories(dir.File("spam-1"));
  testing::WriteTextFile(dir.File("spam-1/2.json"), "{\"text\": ");
  status = ReadSpamAssassin(dir.path()).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir.File("spam-1/2.json")));
}

TEST(ReadTextCsvTest, OptionalHeaderQuotedTextAndSortedClasses) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("t.csv"),
                         "text,Label\n\"hello, world\",pos\nbad day,neg\n\"so \"\"so\"\"\",pos\n");
  absl::StatusOr<TextCorpus> corpus = ReadTextCsv(dir.File("t.csv"));
  ASSERT_OK(corpus);
  EXPECT_THAT(corpus->texts, ElementsAre("hello, world", "bad day", "so \"so\""));
  EXPECT_THAT(corpus->class_names, ElementsAre("neg", "pos"));
  EXPECT_THAT(corpus->labels, ElementsAre(1, 0, 1));
  EXPECT_THAT(corpus->lines, ElementsAre(2, 3, 4));

  testing::WriteTextFile(dir.File("n.tsv"), "a b\t10\nc\t9\nd\t10\n");  // No header.
  corpus = ReadTextCsv(dir.File("n.tsv"));
  ASSERT_OK(corpus);
  EXPECT_THAT(corpus->class_names, ElementsAre("9", "10"));  // Numeric order.
  EXPECT_THAT(corpus->labels, ElementsAre(1, 0, 1));
}

TEST(ReadTextCsvTest, BadFilesNameFileAndLine) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("three.csv"), "a,x\nb,y\nc,y,extra\n");
  absl::Status status = ReadTextCsv(dir.File("three.csv")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir.File("three.csv") + ":3:"));

  testing::WriteTextFile(dir.File("empty.csv"), "text,label\n");
  status = ReadTextCsv(dir.File("empty.csv")).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("empty corpus"));

  testing::WriteTextFile(dir.File("one.csv"), "a,x\nb,x\n");
  status = ReadTextCsv(dir.File("one.csv")).status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("at least two classes"));

  testing::WriteTextFile(dir.File("nolabel.csv"), "a,x\nb, \n");
  status = ReadTextCsv(dir.File("nolabel.csv")).status();
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(dir.File("nolabel.csv") + ":2: empty label"));
}

}  // namespace
}  // namespace vernier

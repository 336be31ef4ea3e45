// Conversions of the coordinator's records to vernier.v1 protos that no
// service test reaches through a real server: a page's columns of PBT trials
// (exploits come only from workers' reports).
#include "server/service/proto_convert.h"

#include <vector>

#include "gtest/gtest.h"

namespace vernier {
namespace {

ListedTrial Listed(int64_t number, std::vector<ExploitRecord> exploits) {
  ListedTrial listed;
  listed.trial.study = "pbt";
  listed.trial.number = number;
  listed.trial.state = TrialState::kRunning;
  listed.trial.params = {{"lr", 0.01}};
  listed.trial.exploits = std::move(exploits);
  listed.objective_values = {0.5};
  return listed;
}

// Columns list exploits only for the trials that have any, each as the
// Trial message of the same trial holds them.
TEST(ColumnsToProtoTest, ExploitsAreThoseOfTheTrialMessages) {
  const std::vector<ListedTrial> page = {
      Listed(0, {}),
      Listed(1, {ExploitRecord{4, 0, 4, {{"lr", 0.1}}}, ExploitRecord{8, 2, 8, {{"lr", 0.02}}}}),
      Listed(2, {}),
      Listed(3, {ExploitRecord{4, 1, 4, {{"lr", 0.3}}}}),
  };
  const v1::TrialColumns columns = ColumnsToProto(page);
  ASSERT_EQ(columns.numbers_size(), 4);
  ASSERT_EQ(columns.exploits_size(), 2);
  int checked = 0;
  for (const v1::TrialExploits& listed : columns.exploits()) {
    const v1::Trial trial = ToProto(page[listed.number()]);
    ASSERT_EQ(listed.exploits_size(), trial.exploits_size()) << "trial " << listed.number();
    ASSERT_GT(trial.exploits_size(), 0);
    for (int i = 0; i < trial.exploits_size(); ++i) {
      EXPECT_EQ(listed.exploits(i).SerializeAsString(), trial.exploits(i).SerializeAsString())
          << "trial " << listed.number() << " exploit " << i;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3);
  EXPECT_EQ(columns.exploits(0).number(), 1);
  EXPECT_EQ(columns.exploits(1).number(), 3);
  EXPECT_EQ(columns.exploits(0).exploits(1).donor_trial(), 2);
}

}  // namespace
}  // namespace vernier

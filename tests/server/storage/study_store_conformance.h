// The StudyStore conformance suite: the behaviour every StudyStore must show,
// written once and run against each implementation (the model is Vizier's
// datastore_test_lib.py).
//
// To run it against an implementation, instantiate it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, StudyStoreConformanceTest,
//                            ::testing::Values(StudyStoreFactory{"Memory", ...}),
//                            StudyStoreFactoryName);
//
// Each test gets a fresh, empty scratch directory and its own store.
#ifndef VERNIER_TESTS_SERVER_STORAGE_STUDY_STORE_CONFORMANCE_H_
#define VERNIER_TESTS_SERVER_STORAGE_STUDY_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/logic/types.h"
#include "server/storage/study_store.h"
#include "tests/testing/temp_dir.h"

namespace vernier {

struct StudyStoreFactory {
  // Names the instantiation in test names; letters, digits and '_' only.
  std::string name;
  // Opens the store kept in `scratch_dir` (an existing directory owned by the
  // test), creating it when there is none yet. Fails the test (and returns
  // nullptr) when it cannot.
  std::function<std::unique_ptr<StudyStore>(const std::string& scratch_dir)> open;
  // When true the suite closes the store and opens it again from the same
  // directory before each LoadAll(), so every check also covers what survives
  // a restart. Only for durable stores.
  bool reopen_before_load = false;
};

// Prints the factory's name in test output.
void PrintTo(const StudyStoreFactory& factory, std::ostream* os);

// For INSTANTIATE_TEST_SUITE_P's name generator.
std::string StudyStoreFactoryName(const ::testing::TestParamInfo<StudyStoreFactory>& info);

// A canonical, complete rendering of records for comparisons: every field,
// parameter types tagged, doubles in hex-float form (so 3.0 vs 3, -0.0 vs
// 0.0 and the last bit all show), NaN as "nan".
std::string DebugString(const StudyRecord& study);
std::string DebugString(const TrialRecord& trial);
std::string DebugString(const std::vector<StoredStudy>& studies);

class StudyStoreConformanceTest : public ::testing::TestWithParam<StudyStoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The store under test.
  StudyStore& store() { return *store_; }

  // store().LoadAll() (after a reopen when the factory asks for it); fails
  // the test on an error.
  std::vector<StoredStudy> Load();

 private:
  // Declared first: removed after the store has closed.
  ::vernier::testing::TempDir scratch_dir_;
  std::unique_ptr<StudyStore> store_;
};

}  // namespace vernier

#endif  // VERNIER_TESTS_SERVER_STORAGE_STUDY_STORE_CONFORMANCE_H_

#include "server/storage/memory_study_store.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/server/storage/study_store_conformance.h"

namespace vernier {
namespace {

INSTANTIATE_TEST_SUITE_P(Memory, StudyStoreConformanceTest,
                         ::testing::Values(StudyStoreFactory{
                             "Memory",
                             [](const std::string& /*scratch_dir*/) {
                               return std::make_unique<MemoryStudyStore>();
                             }}),
                         StudyStoreFactoryName);

}  // namespace
}  // namespace vernier

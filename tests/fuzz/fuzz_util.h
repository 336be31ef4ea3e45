// The check macro of the fuzz targets. A failed check aborts, which libFuzzer
// reports as a crash with the input that caused it.
#ifndef VERNIER_TESTS_FUZZ_FUZZ_UTIL_H_
#define VERNIER_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdio>
#include <cstdlib>

#define VERNIER_FUZZ_CHECK(condition)                                                    \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

#endif  // VERNIER_TESTS_FUZZ_FUZZ_UTIL_H_
